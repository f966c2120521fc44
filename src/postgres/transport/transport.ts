import pg from 'pg'
import { InvalidInputError } from '../../core/errors.js'
import { ChangeSignal } from '../../core/signal.js'
import type { Logger } from '../../core/types.js'
import type { IncomingBinaryMessage } from '../../messaging/binary-mode.js'
import { createMessageWithJson, type OutgoingMessage } from '../../messaging/envelope.js'
import { MessageTooLargeError, TransportClosedError } from '../../messaging/errors.js'
import { resolveSubscription } from '../../messaging/retry.js'
import type { Consumer, PublishResult, SubscribeOptions, Transport, TransportCapabilities } from '../../messaging/types.js'
import type { SchemaNames } from '../identifiers.js'
import { migrate } from '../migrations.js'
import { Notifier } from '../notifier.js'
import { typeParsers } from '../rows.js'
import { Announcer } from './announcer.js'
import { type ConsumerSettings, PostgresConsumer } from './consumer.js'
import { Db, toTransportError } from './db.js'
import { PostgresDeadLetters } from './dead-letters.js'
import { Routing } from './routing.js'
import * as sql from './sql.js'
import { storedSize, toStoredWire } from './wire.js'

export interface PostgresTransportSettings extends ConsumerSettings {
  connectionString: string
  names: SchemaNames
  poolSize: number
  source: string
  maxMessageBytes: number
  logger: Logger | undefined
  durableAcks: boolean
}

/** Wakes the consumers a notification concerns: those of the groups it names, or all of them. */
class Wakeups extends ChangeSignal {
  constructor(private readonly consumers: ReadonlySet<PostgresConsumer>) {
    super()
  }

  /** After every (re)connect: notifications may have been missed meanwhile. */
  override notify(): void {
    super.notify()
    for (const consumer of this.consumers) consumer.wake()
  }

  forPayload(payload: string): void {
    if (payload === '') this.notify()
    else this.forGroups(new Set(payload.split(',')))
  }

  forGroups(groups: ReadonlySet<string>): void {
    for (const consumer of this.consumers) if (groups.has(consumer.group)) consumer.wake()
  }
}

/** A queue in tables: see `createPostgresTransport`. SQL lives in `sql.ts`, consuming in `consumer.ts`. */
export class PostgresTransport implements Transport {
  readonly capabilities: TransportCapabilities = {
    supportsOrderingKey: true,
    // A retry waits in its row (`visible_at`), not in the consumer's memory.
    supportsDelayedDelivery: true,
    // The move to the dead letters is atomic, but a consumer makes it, also for a message over the
    // delivery limit (it buries it when it claims it); nothing in the database gives up by itself.
    supportsNativeDeadLettering: false,
    survivesConsumerCrash: true,
    // A row waiting for its retry is the earliest of its key, so it blocks the key's later rows.
    retriesKeepKeyOrder: true,
  }
  readonly deadLetters: PostgresDeadLetters
  readonly #pool: pg.Pool
  readonly #db: Db
  /** The consumers' own connections, opened on the first subscribe (see `consumerConnection`). */
  #consumerPool: pg.Pool | undefined
  #consumerDb: Db | undefined
  readonly #notifier: Notifier
  readonly #announcer: Announcer
  readonly #consumers = new Set<PostgresConsumer>()
  /** Which groups take which types, as of a routing version; read on the first publish. */
  #routing: Promise<Routing> | undefined
  #closed = false

  constructor(private readonly settings: PostgresTransportSettings) {
    const { connectionString, names, poolSize, logger } = settings
    const connection = { connectionString, types: typeParsers }
    this.#pool = openPool(publisherConnection(connection), poolSize, logger)
    this.#db = new Db(this.#pool, logger)
    const wakeups = new Wakeups(this.#consumers)
    this.#notifier = new Notifier(connection, names.messagesChannel, wakeups, logger, (payload) => wakeups.forPayload(payload))
    this.#announcer = new Announcer(this.#db, names, (groups) => wakeups.forGroups(groups), logger)
    this.deadLetters = new PostgresDeadLetters(this.#db, names, () => this.#checkOpen())
  }

  /** Brings the schema up to date (the store's migrations, the transport's tables among them). */
  async open(): Promise<void> {
    try {
      await migrate(this.#pool, this.settings.names, this.settings.logger)
    } catch (error) {
      await this.#pool.end().catch(() => {})
      throw toTransportError(error)
    }
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<PublishResult> {
    this.#checkOpen()
    const created = messages.map((m, i) => createMessageWithJson(m, this.settings.source, i))
    const wires = created.map(({ message, json }) => toStoredWire(message, json))
    this.#checkSizes(wires)
    if (wires.length > 0) await this.#insert(wires)
    return { ids: wires.map((w) => w.id) }
  }

  /**
   * Puts bytes in the queue as if another producer had sent them (binary-mode `ce_` headers plus
   * body); they are decoded on delivery. For tests of undecodable messages and for bridges.
   */
  async publishRaw(wire: IncomingBinaryMessage & { type: string; id?: string; partitionKey?: string }): Promise<void> {
    this.#checkOpen()
    if (typeof wire.type !== 'string' || wire.type === '')
      throw new InvalidInputError('INVALID_ARGUMENT', 'type must be a non-empty string', 'type')
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(wire.headers)) {
      headers[name] = value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : String(value)
    }
    const stored = {
      id: wire.id ?? crypto.randomUUID(),
      type: wire.type,
      partitionKey: wire.partitionKey,
      headers: JSON.stringify(headers),
      contentType: wire.contentType,
      body: Buffer.from(wire.body),
    }
    this.#checkSizes([stored])
    await this.#insert([stored])
  }

  /**
   * Routes by the copy of the subscriptions this transport keeps, which the statement checks is
   * current (see `publishRouted`). When it is not, this publish routes in the database instead, as
   * it would under any churn of subscriptions, and the next one reads a fresh copy.
   */
  async #insert(wires: readonly sql.StoredWire[]): Promise<void> {
    const { names } = this.settings
    const loading = this.#routing ?? this.#loadRouting()
    const routing = await loading
    const rows = routing.route(wires)
    if (rows.length > 0 && (await this.#db.count(sql.publishRouted(names, rows, routing.version))) === rows.length) {
      this.#announcer.announce([...new Set(rows.map((row) => row.group))])
      return
    }
    if (rows.length === 0) {
      // Nothing to write, as long as no group has taken these types since the copy was read.
      const [current] = await this.#db.query<{ version: bigint }>(sql.routingVersion(names))
      if (current?.version === routing.version) return
    }
    if (this.#routing === loading) this.#routing = undefined
    const groups = await this.#db.query<{ group_name: string }>(sql.publish(names, wires))
    this.#announcer.announce(groups.map((row) => row.group_name))
  }

  #loadRouting(): Promise<Routing> {
    const loading = this.#db
      .query<{ version: bigint; group_name: string | null; type: string | null }>(sql.routes(this.settings.names))
      .then((rows) => new Routing(rows[0]?.version ?? 0n, rows))
    this.#routing = loading
    // A failed read is not kept: the next publish reads again.
    loading.catch(() => {
      if (this.#routing === loading) this.#routing = undefined
    })
    return loading
  }

  async subscribe(options: SubscribeOptions): Promise<Consumer> {
    this.#checkOpen()
    const subscription = resolveSubscription(options)
    const { names, logger, visibilityTimeoutMs, pollIntervalMs, deliveryLimit } = this.settings
    const consumer = new PostgresConsumer(
      {
        db: this.#openConsumerDb(),
        names,
        logger,
        settings: { visibilityTimeoutMs, pollIntervalMs, deliveryLimit },
        onStop: (c) => this.#consumers.delete(c),
      },
      subscription,
    )
    await consumer.start()
    // It may have added a group or types: the copy would only fail its next check.
    this.#routing = undefined
    this.#consumers.add(consumer)
    this.#notifier.start()
    return consumer
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#consumers].map((c) => c.stop()))
    await this.#announcer.flushed()
    await this.#notifier.stop()
    await this.#consumerPool?.end()
    await this.#pool.end()
  }

  #openConsumerDb(): Db {
    if (this.#consumerDb === undefined) {
      const { connectionString, poolSize, logger, durableAcks } = this.settings
      this.#consumerPool = openPool(consumerConnection({ connectionString, types: typeParsers }, durableAcks), poolSize, logger)
      this.#consumerDb = new Db(this.#consumerPool, logger)
    }
    return this.#consumerDb
  }

  #checkSizes(wires: readonly sql.StoredWire[]): void {
    const limit = this.settings.maxMessageBytes
    wires.forEach((wire, i) => {
      const size = storedSize(wire)
      if (size > limit) throw new MessageTooLargeError(i, size, limit)
    })
  }

  #checkOpen(): void {
    if (this.#closed) throw new TransportClosedError()
  }
}

function openPool(connection: pg.PoolConfig, max: number, logger: Logger | undefined): pg.Pool {
  const pool = new pg.Pool({ ...connection, max, connectionTimeoutMillis: 10_000, keepAlive: true })
  // An idle client whose connection drops emits here; unhandled, it would crash the process.
  pool.on('error', (error) => logger?.warn?.('eventfold: idle PostgreSQL connection failed', { error }))
  return pool
}

/**
 * The consumers' connections commit without waiting for the WAL to reach disk, unless asked to
 * (`durableAcks`). Nothing a consumer writes must outlive a server crash: a claim, an
 * acknowledgement, a retry or a move to the dead letters that the crash takes away leaves the row
 * as it was before, so the message is delivered again, which at-least-once delivery allows (and
 * the inbox absorbs). Each is still one atomic transaction. Publishing keeps waiting for the disk:
 * a published message is the one thing a crash must not take. A group's subscription row is written
 * here too, and is safe all the same: a publish that routed a message to the group saw it
 * committed, and flushing that publish's commit flushes every commit before it in the WAL.
 */
export function consumerConnection(connection: pg.PoolConfig, durableAcks: boolean): pg.PoolConfig {
  return { ...connection, options: durableAcks ? GENERIC_PLANS : `${GENERIC_PLANS} -c synchronous_commit=off` }
}

/**
 * Every statement of the transport is prepared once per connection (see `prepared` in sql.ts), but
 * by default PostgreSQL planned the publish anew at every execution: its custom plan, which knows
 * the batch's size, always looks cheaper than the generic one, and the planning took as long as
 * the insert. The generic plans are the ones the query-plan tests check.
 *
 * No JIT: a generic plan does not know the claim's LIMIT and reckons on a tenth of the group's
 * rows, so past about 150,000 queued rows its estimate crossed `jit_above_cost` and every claim
 * compiled itself first: 13 ms of JIT for a claim of 16 rows that runs in 0.1 ms (consume fell from
 * 8,000 to 600 messages a second). Nothing the transport runs is long enough to gain from JIT.
 */
const GENERIC_PLANS = '-c plan_cache_mode=force_generic_plan -c jit=off'

export function publisherConnection(connection: pg.PoolConfig): pg.PoolConfig {
  return { ...connection, options: GENERIC_PLANS }
}
