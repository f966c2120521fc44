import type pg from 'pg'
import type { Logger } from '../../core/types.js'
import { TransportUnavailableError } from '../../messaging/errors.js'
import { isConnectionError } from '../errors.js'
import type { Query } from '../sql.js'

/** A lost connection is TRANSPORT_UNAVAILABLE; any other error passes through untouched. */
export function toTransportError(error: unknown): unknown {
  if (!isConnectionError(error)) return error
  const detail = error instanceof Error ? error.message : String(error)
  return new TransportUnavailableError(`PostgreSQL is unavailable: ${detail}`, error)
}

/** The transport's way into its pool: one statement, or one transaction, with errors mapped. */
export class Db {
  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger | undefined,
  ) {}

  async query<Row extends object>(query: Query): Promise<Row[]> {
    return (await this.#run<Row>(query)).rows
  }

  /** The number of rows the statement wrote. */
  async count(query: Query): Promise<number> {
    return (await this.#run(query)).rowCount ?? 0
  }

  async #run<Row extends object>(query: Query): Promise<pg.QueryResult<Row>> {
    try {
      return await this.pool.query<Row>(query)
    } catch (error) {
      throw toTransportError(error)
    }
  }

  async transaction<T>(work: (query: <Row extends object>(q: Query) => Promise<Row[]>) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (error) {
      throw toTransportError(error)
    }
    // A checked-out client with no listener would crash the process if its connection dropped now.
    const onError = (error: Error) => this.logger?.warn?.('eventfold: connection lost in a transport transaction', { error })
    client.on('error', onError)
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await work(async <Row extends object>(q: Query) => (await client.query<Row>(q)).rows)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError
      })
      throw toTransportError(error)
    } finally {
      client.off('error', onError)
      client.release(broken)
    }
  }
}
