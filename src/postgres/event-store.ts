import pg from 'pg'
import { StreamDeletedError, WrongExpectedRevisionError } from '../core/errors.js'
import {
  ChangeSignal,
  type EventRow,
  eventFromRow,
  type Projection,
  runInlineProjections,
  type StoreBackend,
  type StreamPageQuery,
} from '../core/internal.js'
import type {
  AppendResult,
  DeleteMode,
  EventFilter,
  EventLocation,
  ExpectedRevision,
  Logger,
  RecordedEvent,
} from '../core/types.js'
import type { PreparedEvent } from '../core/validation.js'
import type { AppendRow } from './append-outcome.js'
import { Appender } from './appender.js'
import { toStoreError } from './errors.js'
import type { SchemaNames } from './identifiers.js'
import { migrate } from './migrations.js'
import { Notifier } from './notifier.js'
import { PostgresProcessing } from './processing.js'
import { typeParsers } from './rows.js'
import { PostgresSnapshots } from './snapshots.js'
import type { AppendRequest } from './sql.js'
import * as sql from './sql.js'

export interface BackendConfig {
  connectionString: string
  inline: readonly Projection[]
  names: SchemaNames
  poolSize: number
  logger: Logger | undefined
}

/** Starts the notifier when a subscription first waits: a store that never subscribes never listens. */
class ListeningSignal extends ChangeSignal {
  constructor(private readonly onFirstWait: () => void) {
    super()
  }

  override waitForChange(since: number, timeoutMs: number, abort: AbortSignal): Promise<void> {
    this.onFirstWait()
    return super.waitForChange(since, timeoutMs, abort)
  }
}

/** The PostgreSQL storage port: SQL lives in `sql.ts` and the schema's functions, this wires them. */
export class PostgresBackend implements StoreBackend {
  // LISTEN/NOTIFY is the delivery path; polling only covers a notification lost in a reconnect.
  readonly pollIntervalMs = 2_000
  readonly changes: ChangeSignal
  readonly appender: Appender
  readonly snapshots: PostgresSnapshots
  readonly processing: PostgresProcessing
  readonly #pool: pg.Pool
  readonly #notifier: Notifier
  readonly #names: SchemaNames
  readonly #logger: Logger | undefined

  readonly #inline: readonly Projection[]

  constructor({ connectionString, names, poolSize, logger, inline }: BackendConfig) {
    this.#inline = inline
    this.#names = names
    this.#logger = logger
    const connection = { connectionString, types: typeParsers }
    this.#pool = new pg.Pool({ ...connection, max: poolSize, connectionTimeoutMillis: 10_000, keepAlive: true })
    // An idle client whose connection drops emits here; unhandled, it would crash the process.
    this.#pool.on('error', (error) => logger?.warn?.('eventfold: idle PostgreSQL connection failed', { error }))
    this.changes = new ListeningSignal(() => this.#notifier.start())
    this.#notifier = new Notifier(connection, names.channel, this.changes, logger)
    this.snapshots = new PostgresSnapshots(names, (query) => this.#query(query))
    this.processing = new PostgresProcessing({
      pool: this.#pool,
      names,
      changes: this.changes,
      pollIntervalMs: this.pollIntervalMs,
      headPosition: () => this.headPosition(),
      logger,
    })
    this.appender = new Appender(
      (requests) =>
        inline.length === 0 ? this.#query<AppendRow>(sql.appendBatch(names, requests)) : this.#appendProjected(requests),
      () => this.changes.notify(),
    )
  }

  async migrate(): Promise<void> {
    try {
      await migrate(this.#pool, this.#names, this.#logger)
    } catch (error) {
      throw toStoreError(error)
    }
  }

  append(streamId: string, events: PreparedEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    return this.appender.append({ streamId, events, expected })
  }

  /**
   * A batch with inline projections: the batch, then its projections, in one transaction. A
   * projection that throws rolls the whole batch back; the appender then retries each append
   * alone, so only the one whose projection fails fails.
   */
  #appendProjected(requests: readonly AppendRequest[]): Promise<AppendRow[]> {
    return this.processing.transaction(async (tx) => {
      const client = tx.handle as pg.PoolClient
      const rows = (await client.query<AppendRow>(sql.appendBatch(this.#names, requests))).rows
      const last = rows.reduce<bigint>((max, row) => (row.r_position !== null && row.r_position > max ? row.r_position : max), 0n)
      const count = requests.reduce((sum, request) => sum + request.events.length, 0)
      if (last > 0n) {
        const written = (await client.query<EventRow>(sql.writtenEvents(this.#names, last, count))).rows
        if (written.length > 0) await runInlineProjections(this.#inline, written.map(eventFromRow), tx)
      }
      return rows
    })
  }

  async readStreamPage(streamId: string, query: StreamPageQuery): Promise<RecordedEvent[]> {
    const rows = await this.#query<EventRow>(sql.readStreamPage(this.#names, streamId, query))
    return rows.map(eventFromRow)
  }

  async readAllPage(after: bigint, limit: number, filter: EventFilter | undefined): Promise<RecordedEvent[]> {
    const rows = await this.#query<EventRow>(sql.readAllPage(this.#names, after, limit, filter))
    return rows.map(eventFromRow)
  }

  async locateEvent(eventId: string): Promise<EventLocation | undefined> {
    const [row] = await this.#query<{ stream_id: string; revision: bigint; position: bigint }>(
      sql.locateEvent(this.#names, eventId),
    )
    return row && { streamId: row.stream_id, revision: row.revision, position: row.position }
  }

  async headPosition(): Promise<bigint> {
    const [row] = await this.#query<{ head: bigint }>(sql.headPosition(this.#names))
    return row?.head ?? 0n
  }

  async streamHead(streamId: string): Promise<bigint | undefined> {
    const [row] = await this.#query<{ head: bigint | null }>(sql.streamHead(this.#names, streamId))
    return row?.head ?? undefined
  }

  async deleteStream(streamId: string, mode: DeleteMode, expected: ExpectedRevision): Promise<void> {
    const [row] = await this.#query<{ r_status: string; r_revision: bigint | null }>(
      sql.deleteStream(this.#names, streamId, mode, expected),
    )
    if (row?.r_status === 'deleted') throw new StreamDeletedError(streamId)
    if (row?.r_status === 'wrong_revision')
      throw new WrongExpectedRevisionError(streamId, expected, row.r_revision ?? 'no_stream')
    if (row?.r_status !== 'ok') throw new Error(`delete_stream returned no usable row for '${streamId}'`)
  }

  /** Lets queued appends finish, then closes every connection. */
  async close(): Promise<void> {
    await this.appender.drain()
    await this.#notifier.stop()
    await this.#pool.end()
  }

  async #query<Row extends object>(query: sql.Query): Promise<Row[]> {
    try {
      return (await this.#pool.query<Row>(query)).rows
    } catch (error) {
      throw toStoreError(error)
    }
  }
}
