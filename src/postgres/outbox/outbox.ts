import { createHash } from 'node:crypto'
import pg from 'pg'
import { ChangeSignal, InvalidInputError } from '../../core/internal.js'
import type { Logger } from '../../core/types.js'
import type { OutgoingMessage } from '../../messaging/envelope.js'
import {
  type OutboxClaim,
  type OutboxRelay,
  OutboxRelayLoop,
  type OutboxRelayOptions,
  type OutboxStorage,
} from '../../messaging/outbox/relay.js'
import { fromOutboxRow, outboxRows } from '../../messaging/outbox/rows.js'
import { toStoreError } from '../errors.js'
import { type SchemaNames, schemaNames } from '../identifiers.js'
import { migrate } from '../migrations.js'
import { Notifier } from '../notifier.js'
import { typeParsers } from '../rows.js'
import * as sql from './sql.js'

/** Anything that runs a parameterized query: a `pg` client inside the caller's transaction. */
export interface Queryable {
  query(query: { text: string; values: unknown[] }): Promise<unknown>
}

export interface PostgresOutboxOptions {
  connectionString: string
  /** Schema of the outbox table (and eventfold's other tables). Default `'eventfold'`. */
  schema?: string
  /** Connections for relays. Default 4. */
  poolSize?: number
  /** The CloudEvents `source` of the messages. Default `'eventfold'`. */
  source?: string
  logger?: Logger
}

/**
 * The transactional outbox for a service that is not event-sourced: `enqueue` writes messages in
 * the service's own transaction (they exist exactly when its state change commits), and relays,
 * in as many processes as you like, publish them in order per partition key.
 *
 * @example
 * const outbox = createPostgresOutbox({ connectionString })
 * await outbox.migrate()
 * await client.query('BEGIN')
 * await client.query('UPDATE orders SET status = $1 WHERE id = $2', ['placed', id])
 * await outbox.enqueue(client, [{ type: 'OrderPlaced', data: { id }, partitionKey: id }])
 * await client.query('COMMIT')
 * await outbox.relay({ transport }).start()
 */
export class PostgresOutbox {
  readonly #names: SchemaNames
  readonly #pool: pg.Pool
  readonly #options: PostgresOutboxOptions
  readonly #channel: string
  readonly #relays = new Set<OutboxRelay>()

  constructor(options: PostgresOutboxOptions) {
    if (typeof options?.connectionString !== 'string' || options.connectionString === '') {
      throw new InvalidInputError('INVALID_ARGUMENT', 'connectionString must be a non-empty string', 'connectionString')
    }
    this.#options = options
    this.#names = schemaNames(options.schema ?? 'eventfold')
    this.#channel = `${this.#names.channel}_outbox`
    this.#pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 4, types: typeParsers })
    this.#pool.on('error', (error) => options.logger?.warn?.('eventfold: idle outbox connection failed', { error }))
  }

  /** Creates the schema's tables (the outbox among them); safe from several processes at once. */
  async migrate(): Promise<void> {
    await migrate(this.#pool, this.#names, this.#options.logger)
  }

  /**
   * Adds messages inside the caller's transaction (`client` is in BEGIN … COMMIT): they are sent
   * once it commits, and never if it rolls back. Returns their ids.
   */
  async enqueue(client: Queryable, messages: readonly OutgoingMessage[]): Promise<string[]> {
    const rows = outboxRows(messages, this.#options.source ?? 'eventfold')
    await client.query(sql.enqueue(this.#names, rows, this.#channel))
    return rows.map((row) => row.id)
  }

  /** A relay publishing this outbox to `transport`; start it in one or more processes. */
  relay(options: OutboxRelayOptions): OutboxRelay {
    const changes = new ChangeSignal()
    const notifier = new Notifier(
      { connectionString: this.#options.connectionString },
      this.#channel,
      changes,
      this.#options.logger,
    )
    const storage = new PostgresOutboxStorage(this.#pool, this.#names, changes, notifier)
    const relay = new OutboxRelayLoop(storage, { logger: this.#options.logger, ...options })
    const stop = relay.stop.bind(relay)
    const tracked: OutboxRelay = Object.assign(relay, {
      stop: async () => {
        await stop()
        await notifier.stop()
      },
    })
    this.#relays.add(tracked)
    return tracked
  }

  /** Stops this outbox's relays and closes its connections. */
  async close(): Promise<void> {
    await Promise.all([...this.#relays].map((r) => r.stop()))
    await this.#pool.end()
  }
}

class PostgresOutboxStorage implements OutboxStorage {
  readonly #space: number

  constructor(
    private readonly pool: pg.Pool,
    private readonly names: SchemaNames,
    private readonly changes: ChangeSignal,
    private readonly notifier: Notifier,
  ) {
    // The advisory-lock space of this schema's outbox keys: apart from other schemas' keys.
    this.#space = createHash('sha256').update(`eventfold:outbox:${names.name}`).digest().readInt32BE(0)
  }

  /** The signal's version when the last claim began: a wake-up after it is not missed. */
  #since = 0

  async claim(limit: number): Promise<OutboxClaim | undefined> {
    this.notifier.start()
    this.#since = this.changes.version
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (error) {
      throw toStoreError(error)
    }
    let released = false
    const release = (error?: Error) => {
      if (released) return
      released = true
      client.release(error)
    }
    try {
      await client.query(sql.BEGIN_CLAIM)
      const { rows } = await client.query<{ seq: bigint; message: string }>(sql.claim(this.names, this.#space, limit))
      if (rows.length === 0) {
        await client.query('COMMIT')
        release()
        return undefined
      }
      const messages = rows.map((row) => fromOutboxRow(row.message))
      return {
        messages,
        done: async () => {
          try {
            await client.query(
              sql.markSent(
                this.names,
                rows.map((row) => row.seq),
              ),
            )
            await client.query('COMMIT')
            release()
          } catch (error) {
            release(error as Error)
            throw toStoreError(error)
          }
        },
        abandon: async () => {
          await client.query('ROLLBACK').then(
            () => release(),
            (error: Error) => release(error),
          )
        },
      }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      release(error as Error)
      throw toStoreError(error)
    }
  }

  async cleanup(retentionMs: number): Promise<number> {
    try {
      return (await this.pool.query(sql.cleanupOutbox(this.names, retentionMs))).rowCount ?? 0
    } catch (error) {
      throw toStoreError(error)
    }
  }

  wait(timeoutMs: number, abort: AbortSignal): Promise<void> {
    return this.changes.waitForChange(this.#since, timeoutMs, abort)
  }
}

export function createPostgresOutbox(options: PostgresOutboxOptions): PostgresOutbox {
  return new PostgresOutbox(options)
}
