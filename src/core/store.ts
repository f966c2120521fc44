import { InvalidInputError, StoreClosedError } from './errors.js'
import type { ChangeSignal } from './signal.js'
import { startSubscription } from './subscription.js'
import type {
  AggregateOptions,
  AggregateResult,
  AppendOptions,
  AppendResult,
  DeleteMode,
  DeleteOptions,
  EventData,
  EventFilter,
  EventStore,
  ExpectedRevision,
  Logger,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StoreLimits,
  SubscribeToAllOptions,
  SubscribeToStreamOptions,
  Subscription,
  SubscriptionStart,
} from './types.js'
import {
  checkExpectedRevision,
  checkReadAll,
  checkReadStream,
  checkStreamId,
  type PreparedEvent,
  prepareAppend,
} from './validation.js'

export interface StreamPageQuery {
  /** First revision to return (inclusive); undefined means the stream's start (or end, backwards). */
  from: bigint | undefined
  direction: 'forwards' | 'backwards'
  limit: number
}

/**
 * The port each storage adapter implements. Everything that does not touch storage (validation,
 * paging, folding, subscriptions) lives in the core, so all adapters share it.
 */
export interface StoreBackend {
  migrate(): Promise<void>
  /** Appends atomically, enforcing the expected revision and the id rules (see `decideAppend`). */
  append(streamId: string, events: PreparedEvent[], expected: ExpectedRevision): Promise<AppendResult>
  readStreamPage(streamId: string, query: StreamPageQuery): Promise<RecordedEvent[]>
  readAllPage(after: bigint, limit: number, filter: EventFilter | undefined): Promise<RecordedEvent[]>
  /** Position of the last event in the log, 0 when empty. */
  headPosition(): Promise<bigint>
  /** Revision of the stream's last visible event, undefined when it has none. */
  streamHead(streamId: string): Promise<bigint | undefined>
  deleteStream(streamId: string, mode: DeleteMode, expected: ExpectedRevision): Promise<void>
  close(): Promise<void>
  /** Fires after this process (or, where the backend can tell, any process) appended. */
  readonly changes: ChangeSignal
  /** How long a live subscription waits without a wake-up before it looks anyway. */
  readonly pollIntervalMs: number
}

export interface StoreOptions {
  limits?: StoreLimits
  logger?: Logger
  /** Events fetched per query by reads and subscriptions. Default 1000. */
  pageSize?: number
}

class CoreEventStore implements EventStore {
  #closed = false
  #subscriptions = new Set<Subscription>()
  readonly #pageSize: number

  constructor(
    private readonly backend: StoreBackend,
    private readonly options: StoreOptions,
  ) {
    this.#pageSize = options.pageSize ?? 1000
  }

  migrate(): Promise<void> {
    this.#open()
    return this.backend.migrate()
  }

  async appendToStream(streamId: string, events: EventData[], options?: AppendOptions): Promise<AppendResult> {
    this.#open()
    const expected = options?.expectedRevision ?? 'any'
    const prepared = prepareAppend(streamId, events, expected, this.options.limits)
    return this.backend.append(streamId, prepared, expected)
  }

  readStream(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent> {
    checkReadStream(streamId, options)
    const direction = options?.direction ?? 'forwards'
    const step = direction === 'forwards' ? 1n : -1n
    return this.#paged(options?.maxCount, options?.fromRevision, (from, limit) =>
      this.backend
        .readStreamPage(streamId, { from, direction, limit })
        .then((page) => ({ page, next: page.length > 0 ? (page.at(-1) as RecordedEvent).revision + step : undefined })),
    )
  }

  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent> {
    checkReadAll(options)
    return this.#paged(options?.maxCount, options?.after ?? 0n, (after, limit) =>
      this.backend
        .readAllPage(after as bigint, limit, options?.filter)
        .then((page) => ({ page, next: page.length > 0 ? (page.at(-1) as RecordedEvent).position : after })),
    )
  }

  /** Streams pages lazily so a reader of a million events holds one page at a time. */
  async *#paged(
    maxCount: number | undefined,
    start: bigint | undefined,
    fetch: (cursor: bigint | undefined, limit: number) => Promise<{ page: RecordedEvent[]; next: bigint | undefined }>,
  ): AsyncGenerator<RecordedEvent> {
    this.#open()
    let remaining = maxCount ?? Number.POSITIVE_INFINITY
    let cursor = start
    while (remaining > 0) {
      if (cursor !== undefined && cursor < 0n) return
      const limit = Math.min(this.#pageSize, remaining)
      const { page, next } = await fetch(cursor, limit)
      for (const event of page) yield event
      remaining -= page.length
      if (page.length < limit) return
      cursor = next
    }
  }

  async aggregateStream<State, E extends RecordedEvent = RecordedEvent>(
    streamId: string,
    options: AggregateOptions<State, E>,
  ): Promise<AggregateResult<State>> {
    const upTo = options.upTo
    if (upTo !== undefined && !isUpTo(upTo)) {
      throw new InvalidInputError('INVALID_ARGUMENT', 'upTo must be { revision: bigint } or { time: Date }', 'upTo')
    }
    let state = options.initialState()
    let revision: bigint | undefined
    for await (const event of this.readStream(streamId)) {
      if (upTo !== undefined && 'revision' in upTo && event.revision > upTo.revision) break
      if (upTo !== undefined && 'time' in upTo && event.recordedAt.getTime() > upTo.time.getTime()) break
      state = options.evolve(state, event as E)
      revision = event.revision
    }
    return { state, revision }
  }

  async deleteStream(streamId: string, options?: DeleteOptions): Promise<void> {
    this.#open()
    checkStreamId(streamId)
    const mode = options?.mode ?? 'soft'
    if (mode !== 'soft' && mode !== 'hard') {
      throw new InvalidInputError('INVALID_ARGUMENT', `mode must be 'soft' or 'hard'`, 'mode')
    }
    const expected = options?.expectedRevision ?? 'any'
    checkExpectedRevision(expected)
    await this.backend.deleteStream(streamId, mode, expected)
  }

  subscribeToAll(options: SubscribeToAllOptions): Subscription {
    this.#open()
    checkReadAll({ filter: options.filter })
    const from = checkStart(options.from)
    return this.#track(
      startSubscription(
        {
          start: async () => (from === 'start' ? 0n : from === 'end' ? this.backend.headPosition() : from.after),
          fetch: (cursor, limit) => this.backend.readAllPage(cursor, limit, options.filter),
          cursorOf: (event) => event.position,
        },
        options.handler,
        this.#subscriptionSettings(),
      ),
    )
  }

  subscribeToStream(streamId: string, options: SubscribeToStreamOptions): Subscription {
    this.#open()
    checkStreamId(streamId)
    const from = checkStart(options.from)
    return this.#track(
      startSubscription(
        {
          start: async () =>
            from === 'start' ? -1n : from === 'end' ? ((await this.backend.streamHead(streamId)) ?? -1n) : from.after,
          fetch: (cursor, limit) => this.backend.readStreamPage(streamId, { from: cursor + 1n, direction: 'forwards', limit }),
          cursorOf: (event) => event.revision,
        },
        options.handler,
        this.#subscriptionSettings(),
      ),
    )
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#subscriptions].map((sub) => sub.stop()))
    await this.backend.close()
  }

  #subscriptionSettings() {
    return {
      signal: this.backend.changes,
      pollIntervalMs: this.backend.pollIntervalMs,
      pageSize: this.#pageSize,
      logger: this.options.logger,
    }
  }

  #track(subscription: Subscription): Subscription {
    this.#subscriptions.add(subscription)
    subscription.done.finally(() => this.#subscriptions.delete(subscription)).catch(() => {})
    return subscription
  }

  #open() {
    if (this.#closed) throw new StoreClosedError()
  }
}

const isUpTo = (upTo: unknown): boolean => {
  const value = upTo as Record<string, unknown>
  return (
    (typeof value.revision === 'bigint' && value.time === undefined) ||
    (value.time instanceof Date && !Number.isNaN(value.time.getTime()) && value.revision === undefined)
  )
}

function checkStart(from: SubscriptionStart | undefined): SubscriptionStart {
  if (from === undefined || from === 'start' || from === 'end') return from ?? 'start'
  if (typeof from === 'object' && from !== null && typeof from.after === 'bigint' && from.after >= -1n) return from
  throw new InvalidInputError('INVALID_ARGUMENT', `from must be 'start', 'end' or { after: bigint }`, 'from')
}

/** Wraps a storage backend in the full `EventStore` contract. Adapters call this; users call the adapters. */
export function createEventStore(backend: StoreBackend, options: StoreOptions = {}): EventStore {
  return new CoreEventStore(backend, options)
}
