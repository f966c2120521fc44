import { SubscriptionHandlerError } from './errors.js'
import type { ChangeSignal } from './signal.js'
import { sleep } from './timing.js'
import type { EventHandler, Logger, RecordedEvent, Subscription } from './types.js'

export interface SubscriptionSource {
  /** Where to start: the cursor of the last event *not* to deliver. */
  start(): Promise<bigint>
  /** Up to `limit` events after `cursor`, in order. */
  fetch(cursor: bigint, limit: number): Promise<RecordedEvent[]>
  /** The cursor an event moves the subscription to (its position, or its revision). */
  cursorOf(event: RecordedEvent): bigint
}

export interface SubscriptionSettings {
  signal: ChangeSignal
  /** Longest wait without a wake-up before looking again (a safety net, not the delivery path). */
  pollIntervalMs: number
  pageSize: number
  logger?: Logger | undefined
}

const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 5_000

const settle = <T>(promise: Promise<T>): Promise<T> => {
  // Callers may never await caughtUp or done; an unobserved rejection must not crash the process.
  promise.catch(() => {})
  return promise
}

/** Catch-up then live delivery, one event at a time, in cursor order. */
class SubscriptionLoop implements Subscription {
  readonly caughtUp: Promise<void>
  readonly done: Promise<void>
  #error: unknown
  #checkpoint: bigint | undefined
  #stopping = new AbortController()
  #resolveCaughtUp!: () => void
  #rejectCaughtUp!: (error: unknown) => void

  constructor(
    private readonly source: SubscriptionSource,
    private readonly handler: EventHandler,
    private readonly settings: SubscriptionSettings,
  ) {
    this.caughtUp = settle(
      new Promise<void>((resolve, reject) => {
        this.#resolveCaughtUp = resolve
        this.#rejectCaughtUp = reject
      }),
    )
    this.done = settle(this.#run())
  }

  get error(): unknown {
    return this.#error
  }

  get checkpoint(): bigint | undefined {
    return this.#checkpoint
  }

  async stop(): Promise<void> {
    this.#stopping.abort()
    await this.done.catch(() => {})
  }

  async #run(): Promise<void> {
    try {
      const cursor = await this.#retrying(() => this.source.start())
      if (cursor === undefined) return
      await this.#deliverFrom(cursor)
    } catch (error) {
      this.#error = error
      this.#rejectCaughtUp(error)
      throw error
    } finally {
      // A subscription stopped before catching up never will; release anyone waiting on it.
      this.#resolveCaughtUp()
    }
  }

  async #deliverFrom(start: bigint): Promise<void> {
    const { signal, pageSize, pollIntervalMs } = this.settings
    let cursor = start
    // While the handler works through a full page, the next one is already being read.
    let prefetched: { seen: number; page: Promise<RecordedEvent[] | undefined> } | undefined
    while (!this.#stopping.signal.aborted) {
      const seen = prefetched?.seen ?? signal.version
      const page = await (prefetched?.page ?? this.#retrying(() => this.source.fetch(cursor, pageSize)))
      prefetched = undefined
      if (page === undefined) return
      const last = page.at(-1)
      if (page.length === pageSize && last !== undefined) {
        const after = this.source.cursorOf(last)
        prefetched = { seen: signal.version, page: settle(this.#retrying(() => this.source.fetch(after, pageSize))) }
      }
      for (const event of page) {
        if (this.#stopping.signal.aborted) return
        try {
          await this.handler(event)
        } catch (error) {
          throw new SubscriptionHandlerError(this.source.cursorOf(event), error)
        }
        cursor = this.source.cursorOf(event)
        this.#checkpoint = cursor
      }
      if (page.length < pageSize) {
        this.#resolveCaughtUp()
        await signal.waitForChange(seen, pollIntervalMs, this.#stopping.signal)
      }
    }
  }

  /** Reads survive a database restart: retried with backoff until they work or the subscription stops. */
  async #retrying<T>(read: () => Promise<T>): Promise<T | undefined> {
    let delay = RETRY_MIN_MS
    for (;;) {
      if (this.#stopping.signal.aborted) return undefined
      try {
        return await read()
      } catch (error) {
        if (!isTransient(error)) throw error
        this.settings.logger?.warn?.('subscription read failed; retrying', { error, delayMs: delay })
        await sleep(delay * (0.5 + Math.random() / 2), this.#stopping.signal)
        delay = Math.min(delay * 2, RETRY_MAX_MS)
      }
    }
  }
}

const isTransient = (error: unknown): boolean => (error as { code?: unknown })?.code === 'STORE_UNAVAILABLE'

export function startSubscription(
  source: SubscriptionSource,
  handler: EventHandler,
  settings: SubscriptionSettings,
): Subscription {
  return new SubscriptionLoop(source, handler, settings)
}
