import { randomUUID } from 'node:crypto'
import { ChangeSignal } from '../../core/signal.js'
import { settledWithin, sleep } from '../../core/timing.js'
import type { Logger } from '../../core/types.js'
import { decodeBinary, type IncomingBinaryMessage } from '../../messaging/binary-mode.js'
import { handleDelivery, type Outcome } from '../../messaging/delivery.js'
import type { ResolvedSubscription } from '../../messaging/retry.js'
import type { Consumer, StopOptions } from '../../messaging/types.js'
import type { SchemaNames } from '../identifiers.js'
import { Acks } from './acks.js'
import type { Db } from './db.js'
import * as sql from './sql.js'
import { BINDING, fromRow } from './wire.js'

export interface ConsumerSettings {
  visibilityTimeoutMs: number
  pollIntervalMs: number
  deliveryLimit: number
}

export interface ConsumerDeps {
  db: Db
  names: SchemaNames
  settings: ConsumerSettings
  logger: Logger | undefined
  /** Called once the consumer has stopped. */
  onStop: (consumer: PostgresConsumer) => void
}

interface Delivery {
  claim: sql.Claim
  /** Given up by `stop`: the row went back to the group, the handler's outcome no longer counts. */
  abandoned: boolean
  done: Promise<void>
}

const MAX_BACKOFF_MS = 5_000
const SETTLE_TRIES = 3

/**
 * One member of a consumer group. It claims as many rows as it has free slots, runs their handlers
 * and settles each row by its outcome. The database decides what is claimable, so per-key order and
 * exclusivity hold across members and processes; this class only keeps the slots full. It claims
 * again when a slot frees, on a notification, after a retry's delay, and at least every poll interval.
 */
export class PostgresConsumer implements Consumer {
  readonly #owner = randomUUID()
  readonly #wake = new ChangeSignal()
  readonly #abort = new AbortController()
  readonly #inHand = new Map<bigint, Delivery>()
  readonly #pending = new Set<Promise<unknown>>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #acks: Acks
  #loop: Promise<void> = Promise.resolve()
  #heartbeat: NodeJS.Timeout | undefined
  #extending = false
  #stopping: Promise<void> | undefined

  constructor(
    private readonly deps: ConsumerDeps,
    private readonly subscription: ResolvedSubscription,
  ) {
    this.#acks = new Acks(
      (query) => this.#settleQuery(query),
      deps.names,
      subscription.group,
      this.#owner,
      () => this.#wake.notify(),
    )
  }

  get group(): string {
    return this.subscription.group
  }

  get #stopped(): boolean {
    return this.#stopping !== undefined
  }

  /** Records the group's types (from then on every publish of them reaches the group), then starts claiming. */
  async start(): Promise<void> {
    const { db, names, settings } = this.deps
    await db.query(sql.subscribe(names, this.group, this.subscription.types))
    this.#loop = this.#run()
    // Three beats per timeout: one late or failed beat does not let a claim lapse.
    this.#heartbeat = setInterval(() => this.#extend(), Math.max(1, Math.floor(settings.visibilityTimeoutMs / 3)))
  }

  /** Something may have become claimable (a publish, a release, a reconnect). */
  wake(): void {
    this.#wake.notify()
  }

  stop(options: StopOptions = {}): Promise<void> {
    this.#stopping ??= this.#stop(options)
    return this.#stopping
  }

  async #stop({ timeoutMs }: StopOptions): Promise<void> {
    this.#abort.abort()
    // A claim in flight finishes; what it brings is handed straight back (see #take).
    await this.#loop
    const drained = Promise.all([...this.#inHand.values()].map((d) => d.done))
    if (timeoutMs === undefined) await drained
    else if (!(await settledWithin(drained, timeoutMs))) await this.#abandon()
    await Promise.all(this.#pending)
    clearInterval(this.#heartbeat)
    for (const timer of this.#timers) clearTimeout(timer)
    this.deps.onStop(this)
  }

  async #run(): Promise<void> {
    let failures = 0
    while (!this.#stopped) {
      const since = this.#wake.version
      const room = this.subscription.concurrency - this.#inHand.size
      if (room > 0) {
        try {
          const rows = await this.deps.db.query<sql.DeliveryRow>(this.#claimQuery(room))
          failures = 0
          for (const row of rows.sort((a, b) => (a.id < b.id ? -1 : 1))) this.#take(row)
        } catch (error) {
          failures++
          const delayMs = Math.min(MAX_BACKOFF_MS, 50 * 2 ** failures)
          this.deps.logger?.warn?.('eventfold: could not claim messages; trying again', { group: this.group, error, delayMs })
          await this.#wake.waitForChange(this.#wake.version, delayMs, this.#abort.signal)
          continue
        }
      }
      await this.#wake.waitForChange(since, this.deps.settings.pollIntervalMs, this.#abort.signal)
    }
  }

  #claimQuery(room: number) {
    const { names, settings } = this.deps
    return sql.claim(names, this.group, this.#owner, room, settings.visibilityTimeoutMs)
  }

  #take(row: sql.DeliveryRow): void {
    const claim = { group: this.group, id: row.id, owner: this.#owner, attempt: Number(row.attempt) }
    if (this.#stopped) return void this.#track(this.#release(claim, true))
    const delivery: Delivery = { claim, abandoned: false, done: Promise.resolve() }
    delivery.done = this.#handle(row, delivery)
      .catch((error: unknown) => this.deps.logger?.error?.('eventfold: a delivery failed unexpectedly', { error }))
      .finally(() => {
        this.#inHand.delete(row.id)
        this.#wake.notify()
      })
    this.#inHand.set(row.id, delivery)
  }

  async #handle(row: sql.DeliveryRow, delivery: Delivery): Promise<void> {
    const { attempt } = delivery.claim
    const wire = fromRow(row)
    const outcome =
      attempt > this.deps.settings.deliveryLimit
        ? overLimit(wire, attempt - 1)
        : await handleDelivery(wire, BINDING, attempt, this.subscription)
    if (delivery.abandoned) return
    // An acknowledged row frees its slot at once: while its ack is on the way the row is still
    // there, so no later row of its key can be claimed, and `stop` waits for the ack.
    const settling = this.#settle(delivery.claim, outcome).catch((error: unknown) => {
      // The claim lapses and another delivery follows: a duplicate, never a loss.
      this.deps.logger?.warn?.('eventfold: could not settle a message; it will be delivered again', {
        group: this.group,
        error,
      })
    })
    if (outcome.kind === 'ack') this.#track(settling)
    else await settling
  }

  async #settle(claim: sql.Claim, outcome: Outcome): Promise<void> {
    const { names } = this.deps
    if (outcome.kind === 'ack') return this.#acks.ack(claim)
    if (outcome.kind === 'abandoned') return this.#release(claim, false)
    if (outcome.kind === 'retry') {
      await this.#settleQuery(sql.retry(names, claim, outcome.delayMs))
      // The other members find it by polling; this one comes back for it on time.
      return this.#wakeIn(outcome.delayMs)
    }
    const letter = {
      id: outcome.message?.id ?? randomUUID(),
      error: JSON.stringify(outcome.error),
      attempts: outcome.attempts,
      origin: originOf(names, this.group),
    }
    await this.#settleQuery(sql.bury(names, claim, letter))
  }

  /**
   * Settling names the claim (see `MINE` in sql.ts), so sending it again after a connection error
   * is safe: if the first one committed, the second finds nothing of ours and does nothing.
   */
  async #settleQuery(query: sql.Query): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        await this.deps.db.query(query)
        return
      } catch (error) {
        if (tries >= SETTLE_TRIES) throw error
        await sleep(100 * 2 ** tries)
      }
    }
  }

  async #release(claim: sql.Claim, uncount: boolean): Promise<void> {
    try {
      await this.#settleQuery(sql.release(this.deps.names, claim, uncount))
    } catch (error) {
      this.deps.logger?.warn?.('eventfold: could not release a message; it goes back when its claim lapses', { error })
    }
  }

  /** Handlers still running after the stop timeout: their rows go back now, their outcomes are ignored. */
  async #abandon(): Promise<void> {
    const left = [...this.#inHand.values()]
    for (const delivery of left) delivery.abandoned = true
    this.#inHand.clear()
    await Promise.all(left.map((d) => this.#release(d.claim, false)))
  }

  #extend(): void {
    const { db, names, settings } = this.deps
    // One at a time: beats piling up behind a stalled one would take the pool's connections.
    if (this.#extending) return
    const ids = [...this.#inHand.keys(), ...this.#acks.ids()]
    if (ids.length === 0) return
    this.#extending = true
    this.#track(
      db
        .query(sql.extend(names, this.group, this.#owner, ids, settings.visibilityTimeoutMs))
        .catch((error: unknown) => {
          this.deps.logger?.warn?.('eventfold: could not extend message claims', { group: this.group, error })
        })
        .finally(() => {
          this.#extending = false
        }),
    )
  }

  #wakeIn(delayMs: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      this.#wake.notify()
    }, delayMs)
    this.#timers.add(timer)
  }

  #track(work: Promise<unknown>): void {
    this.#pending.add(work)
    void work.catch(() => {}).finally(() => this.#pending.delete(work))
  }
}

/**
 * A message handed out more than the limit allows was never settled: each consumer that took it
 * died or lost its claim (it may be what kills them). It goes to the dead letters unhandled, so
 * that it stops holding back its key.
 */
function overLimit(wire: IncomingBinaryMessage, deliveries: number): Outcome {
  const error = {
    message: `Delivered ${deliveries} times without being settled: its consumers kept dying or losing their claim`,
    code: 'DELIVERY_LIMIT',
  }
  try {
    return { kind: 'dead', message: decodeBinary(wire, BINDING), error, attempts: deliveries }
  } catch {
    return { kind: 'dead', error, attempts: deliveries }
  }
}

export const originOf = (names: SchemaNames, group: string): string => `postgres:${names.name}.transport_deliveries/${group}`
