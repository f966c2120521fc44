import pg from 'pg'
import { InvalidInputError } from '../../core/internal.js'
import type { Logger } from '../../core/types.js'
import type { Message } from '../../messaging/envelope.js'
import type { MessageHandler, ReceivedMessage } from '../../messaging/types.js'
import { toStoreError } from '../errors.js'
import { type SchemaNames, schemaNames } from '../identifiers.js'
import { migrate } from '../migrations.js'
import { typeParsers } from '../rows.js'
import * as sql from './sql.js'

export interface PostgresInboxOptions {
  connectionString: string
  /** Schema of the inbox table. Default `'eventfold'`. */
  schema?: string
  poolSize?: number
  /**
   * How long a handled message's id is remembered. It must exceed the longest time a broker may
   * redeliver a message (its redelivery window, retry delays and dead-letter replays): a copy that
   * arrives after its id was forgotten is handled again. Default 7 days.
   */
  retentionMs?: number
  logger?: Logger
}

export type InboxWork<T> = (client: pg.PoolClient) => Promise<T>

/**
 * The idempotent inbox: a message is handled inside a database transaction that also records its
 * id for the consumer; a redelivered copy finds the id and is acknowledged without running the
 * handler again. Two copies handled at once serialize on the id's unique index: the second waits
 * for the first to commit, then sees it.
 *
 * @example
 * const inbox = createPostgresInbox({ connectionString })
 * await transport.subscribe({
 *   group: 'billing',
 *   handler: inbox.wrap('billing', async (message, client) => {
 *     await client.query('UPDATE balances SET total = total + $1 WHERE id = $2', [message.data.amount, message.subject])
 *   }),
 * })
 */
export class PostgresInbox {
  readonly #names: SchemaNames
  readonly #pool: pg.Pool
  readonly #options: PostgresInboxOptions

  constructor(options: PostgresInboxOptions) {
    if (typeof options?.connectionString !== 'string' || options.connectionString === '') {
      throw new InvalidInputError('INVALID_ARGUMENT', 'connectionString must be a non-empty string', 'connectionString')
    }
    const retention = options.retentionMs ?? 7 * 86_400_000
    if (!Number.isSafeInteger(retention) || retention < 1) {
      throw new InvalidInputError('INVALID_ARGUMENT', 'retentionMs must be a whole number ≥ 1', 'retentionMs')
    }
    this.#options = { ...options, retentionMs: retention }
    this.#names = schemaNames(options.schema ?? 'eventfold')
    this.#pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 10, types: typeParsers })
    this.#pool.on('error', (error) => options.logger?.warn?.('eventfold: idle inbox connection failed', { error }))
  }

  async migrate(): Promise<void> {
    await migrate(this.#pool, this.#names, this.#options.logger)
  }

  /**
   * Runs `work` for `message` unless `consumer` already handled it, in one transaction with the
   * record of it. A throw rolls both back (the broker will redeliver).
   */
  async handle<T>(
    consumer: string,
    message: Pick<Message, 'id'>,
    work: InboxWork<T>,
  ): Promise<{ duplicate: boolean; result?: T }> {
    checkName(consumer)
    let client: pg.PoolClient
    try {
      client = await this.#pool.connect()
    } catch (error) {
      throw toStoreError(error)
    }
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const { rows } = await client.query(sql.recordInbox(this.#names, consumer, message.id))
      if (rows.length === 0) {
        await client.query('COMMIT')
        return { duplicate: true }
      }
      const result = await work(client)
      await client.query('COMMIT')
      return { duplicate: false, result }
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError
      })
      throw toStoreError(error)
    } finally {
      client.release(broken)
    }
  }

  /** A transport handler that goes through the inbox: duplicates are acknowledged and skipped. */
  wrap(consumer: string, handler: (message: ReceivedMessage, client: pg.PoolClient) => Promise<void>): MessageHandler {
    checkName(consumer)
    return async (message) => {
      await this.handle(consumer, message, (client) => handler(message, client))
    }
  }

  /** Forgets ids older than the retention; returns how many. Run it now and then (e.g. hourly). */
  async cleanup(): Promise<number> {
    try {
      return (await this.#pool.query(sql.cleanupInbox(this.#names, this.#options.retentionMs as number))).rowCount ?? 0
    } catch (error) {
      throw toStoreError(error)
    }
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}

function checkName(consumer: unknown): void {
  if (typeof consumer !== 'string' || consumer === '' || consumer.length > 200) {
    throw new InvalidInputError('INVALID_ARGUMENT', 'consumer must be a non-empty string of at most 200 characters', 'consumer')
  }
}

export function createPostgresInbox(options: PostgresInboxOptions): PostgresInbox {
  return new PostgresInbox(options)
}
