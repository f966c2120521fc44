import { InvalidInputError } from '../../core/errors.js'
import { positiveInteger } from '../../core/numbers.js'
import type { TransportOptions } from '../../messaging/types.js'
import { schemaNames } from '../identifiers.js'
import { PostgresTransport } from './transport.js'

export type { PostgresTransport } from './transport.js'

export interface PostgresTransportOptions extends TransportOptions {
  /** e.g. `postgres://user:password@host:5432/db`; add `?application_name=…` to tag the connections. */
  connectionString: string
  /** Schema holding the queue's tables (the event store's migrations, shared). Default `'eventfold'`. */
  schema?: string
  /**
   * Most connections the transport opens at once for publishing, and as many again for consuming
   * once something subscribes, besides one for notifications. Default 10.
   */
  poolSize?: number
  /**
   * How long a claimed message stays with its consumer without a heartbeat; a heartbeat extends it
   * every third of it while the handler runs. After a crash, the message goes to another member
   * once this has passed. Default 30 000.
   */
  visibilityTimeoutMs?: number
  /** The longest a consumer waits before looking for messages when no notification came. Default 2 000. */
  pollIntervalMs?: number
  /**
   * Deliveries after which a message that was never settled (its consumers kept dying on it, or lost
   * their claims) goes to the dead letters without being handled again, error code `DELIVERY_LIMIT`.
   * Counts every delivery, so it also caps `retry.maxAttempts`. Default 20.
   */
  deliveryLimit?: number
  /** Largest message (headers and body) `publish` takes; a bigger one fails with MESSAGE_TOO_LARGE. Default 1 MiB. */
  maxMessageBytes?: number
  /**
   * Whether consumers wait for the disk when they claim, acknowledge, retry or dead-letter a
   * message. Default false: those commit asynchronously (`synchronous_commit = off` on the
   * consumers' connections). A server crash can then undo the last moments of them (up to three
   * `wal_writer_delay`s, 600 ms by default), and the messages concerned are delivered again, never
   * lost. Publishing always waits for the disk. It travels as the `options` startup parameter, as
   * does the transport's `plan_cache_mode`; PgBouncer refuses that parameter unless told to ignore
   * it (see docs/messaging.md).
   */
  durableAcks?: boolean
}

/**
 * A transport on PostgreSQL: a queue in tables of the event store's schema. Publishing writes a
 * row per subscribed group in one statement; consumers claim rows with SKIP LOCKED, one per
 * partition key at a time, and are woken by LISTEN/NOTIFY. Creating it applies the schema's
 * migrations (safe from several processes at once).
 *
 * @example
 * const transport = await createPostgresTransport({ connectionString: process.env.DATABASE_URL! })
 * await transport.subscribe({ group: 'billing', concurrency: 8, handler: async (m) => charge(m.data) })
 * await transport.publish([{ type: 'OrderPlaced', data: { orderId: 'o-1' }, partitionKey: 'o-1' }])
 */
export async function createPostgresTransport(options: PostgresTransportOptions): Promise<PostgresTransport> {
  const { connectionString } = options
  if (typeof connectionString !== 'string' || connectionString === '')
    throw new InvalidInputError('INVALID_ARGUMENT', 'connectionString must be a non-empty string', 'connectionString')
  if (options.durableAcks !== undefined && typeof options.durableAcks !== 'boolean')
    throw new InvalidInputError('INVALID_ARGUMENT', 'durableAcks must be true or false', 'durableAcks')
  const transport = new PostgresTransport({
    connectionString,
    names: schemaNames(options.schema ?? 'eventfold'),
    poolSize: positiveInteger(options.poolSize ?? 10, 'poolSize'),
    source: options.source ?? 'eventfold',
    logger: options.logger,
    visibilityTimeoutMs: positiveInteger(options.visibilityTimeoutMs ?? 30_000, 'visibilityTimeoutMs'),
    pollIntervalMs: positiveInteger(options.pollIntervalMs ?? 2_000, 'pollIntervalMs'),
    deliveryLimit: positiveInteger(options.deliveryLimit ?? 20, 'deliveryLimit'),
    maxMessageBytes: positiveInteger(options.maxMessageBytes ?? 1024 * 1024, 'maxMessageBytes'),
    durableAcks: options.durableAcks ?? false,
  })
  await transport.open()
  return transport
}
