import Database from 'better-sqlite3'
import {
  ChangeSignal,
  checkInlineProjections,
  createEventStore,
  decideAppend,
  decideDelete,
  EventfoldError,
  eventFromRow,
  Mutex,
  type PreparedEvent,
  type Projection,
  recordedMetadata,
  runInlineProjections,
  type StoreBackend,
  type StoreOptions,
  StoreUnavailableError,
  type StreamPageQuery,
  type StreamState,
} from '../core/internal.js'
import type {
  AppendResult,
  DeleteMode,
  EventFilter,
  EventLocation,
  EventStore,
  ExpectedRevision,
  RecordedEvent,
} from '../core/types.js'
import { type AppendRequest, GroupCommit } from './group-commit.js'
import { migrate } from './migrations.js'
import { SqliteProcessing } from './processing.js'
import { type ProcessingStatements, processingStatements } from './processing-sql.js'
import { SqliteSnapshots } from './snapshots.js'
import { prepareStatements, type Statements } from './sql.js'

export interface SqliteEventStoreOptions extends StoreOptions {
  /** A file path, or ':memory:' for a private in-memory database. */
  path: string
  /** How long a write waits for another process's lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number
  /**
   * How often a live subscription looks for events written by *other* processes; appends made
   * through this store wake subscribers at once. Default 250 ms.
   */
  pollIntervalMs?: number
}

const MAX_REVISION = 9223372036854775807n

class SqliteBackend implements StoreBackend {
  readonly changes = new ChangeSignal()
  readonly pollIntervalMs: number
  readonly #db: Database.Database
  #statements: Statements | undefined
  readonly #groupCommit: GroupCommit
  readonly #writeLock = new Mutex()
  readonly #writeBatch: (requests: AppendRequest[]) => (AppendResult | Error)[]
  #processingStatements: ProcessingStatements | undefined
  /** Reads events on their own connection: they must never see a processor's uncommitted appends. */
  readonly #reader: Database.Database
  #readStatements: Statements | undefined
  readonly snapshots = new SqliteSnapshots(
    () => this.#sql,
    (work) => this.#exclusive(() => guard(work)),
  )
  readonly processing: SqliteProcessing
  readonly #inline: readonly Projection[]

  constructor(options: SqliteEventStoreOptions) {
    // Checked before any file is opened, so a bad option leaves no connection behind.
    this.#inline = checkInlineProjections(options.inlineProjections) as readonly Projection[]
    this.#db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 5000 })
    this.pollIntervalMs = options.pollIntervalMs ?? 250
    // WAL lets readers (subscriptions, other processes) run while a writer commits.
    enableWal(this.#db, options.busyTimeoutMs ?? 5000)
    this.#db.pragma('foreign_keys = ON')
    // A private in-memory database exists only on its own connection.
    this.#reader =
      options.path === ':memory:' || options.path === ''
        ? this.#db
        : new Database(options.path, { timeout: options.busyTimeoutMs ?? 5000 })
    // Built once: better-sqlite3's transaction wrapper is costly to create on every append.
    const writeBatch = this.#db.transaction((requests: AppendRequest[]) => requests.map((r) => this.#writeOne(r)))
    this.#writeBatch = writeBatch
    // IMMEDIATE takes the write lock before any stream's revision is read, so each check and its
    // insert are atomic across processes too.
    this.#groupCommit = new GroupCommit(
      (requests) => guard(() => writeBatch.immediate(requests)),
      () => this.changes.notify(),
      this.#writeLock,
    )
    this.processing = new SqliteProcessing({
      db: this.#db,
      writeLock: this.#writeLock,
      statements: () => this.#processingSql,
      guard,
      changes: this.changes,
      pollIntervalMs: this.pollIntervalMs,
      headPosition: () => this.headPosition(),
    })
  }

  get #readSql(): Statements {
    if (this.#reader === this.#db) return this.#sql
    if (this.#readStatements === undefined) {
      this.#sql
      this.#readStatements = prepareStatements(this.#reader)
    }
    return this.#readStatements
  }

  get #processingSql(): ProcessingStatements {
    if (this.#processingStatements === undefined) {
      this.#sql
      this.#processingStatements = processingStatements(this.#db)
    }
    return this.#processingStatements
  }

  /**
   * Runs a write under the store's write lock, or at once when called from inside a processor's
   * transaction on this connection: that write joins the transaction (waiting would deadlock).
   */
  #exclusive<T>(work: () => T | Promise<T>): Promise<T> {
    if (this.processing.insideTransaction()) return Promise.resolve().then(work)
    return this.#writeLock.run(work)
  }

  get #sql(): Statements {
    if (this.#statements === undefined) {
      try {
        this.#statements = prepareStatements(this.#db)
      } catch (error) {
        throw new EventfoldError('INVALID_ARGUMENT', 'The SQLite event store has no tables yet: call migrate() first', {
          cause: error,
        })
      }
    }
    return this.#statements
  }

  async migrate(): Promise<void> {
    guard(() => migrate(this.#db))
  }

  /** Live with its last event's revision while it has events; otherwise what its tombstone kept, if any. */
  #streamState(streamId: string): StreamState | undefined {
    const head = this.#sql.streamHead.get(streamId)?.head
    if (head !== null && head !== undefined) return { revision: head, status: 'live' }
    return this.#sql.tombstone.get(streamId) as StreamState | undefined
  }

  append(streamId: string, events: PreparedEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (this.#inline.length > 0) return this.#appendProjected({ streamId, events, expected })
    if (!this.processing.insideTransaction()) return this.#groupCommit.append({ streamId, events, expected })
    // From a processor's handler: a savepoint inside its transaction, committed with its checkpoint.
    return this.#exclusive(() => {
      const [outcome] = guard(() => this.#writeBatch([{ streamId, events, expected }]))
      if (outcome instanceof Error) throw outcome
      this.processing.afterCommit(() => this.changes.notify())
      return outcome as AppendResult
    })
  }

  /**
   * An append with inline projections: its own transaction (a savepoint inside a processor's), held
   * across the projections' awaits under the write lock, committed only if they all succeed.
   */
  #appendProjected(request: AppendRequest): Promise<AppendResult> {
    const db = this.#db
    return this.#exclusive(async () => {
      const nested = this.processing.insideTransaction()
      guard(() => db.exec(nested ? 'SAVEPOINT eventfold_append' : 'BEGIN IMMEDIATE'))
      try {
        const written: RecordedEvent[] = []
        const result = this.#writeAppend(request, written)
        if (written.length > 0) await runInlineProjections(this.#inline, written, this.processing.transactionHandle())
        db.exec(nested ? 'RELEASE eventfold_append' : 'COMMIT')
        if (written.length > 0) this.processing.afterCommit(() => this.changes.notify())
        return result
      } catch (error) {
        if (nested) db.exec('ROLLBACK TO eventfold_append; RELEASE eventfold_append')
        else if (db.inTransaction) db.exec('ROLLBACK')
        throw error
      }
    })
  }

  /** One request of a batch. A rule it breaks is its own outcome: the rules run before any write. */
  #writeOne(request: AppendRequest): AppendResult | Error {
    try {
      return this.#writeAppend(request)
    } catch (error) {
      // Only a rule broken before any write may fail alone; anything else must roll back the batch.
      if (error instanceof EventfoldError) return error
      throw error
    }
  }

  /** Writes one append; `written` (when given) receives the events as recorded, for inline projections. */
  #writeAppend({ streamId, events, expected }: AppendRequest, written?: RecordedEvent[]): AppendResult {
    const sql = this.#sql
    const ids = events.map((e) => e.id)
    const found = events.flatMap((e) => {
      const row = e.idGiven ? sql.eventById.get(e.id) : undefined
      return row === undefined ? [] : [{ ...row, id: row.event_id, streamId: row.stream_id }]
    })
    const decision = decideAppend(streamId, expected, this.#streamState(streamId), ids, found)
    if (!decision.write) return decision.result
    const recordedAt = Date.now()
    let position = 0n
    let revision = decision.firstRevision
    for (const event of events) {
      const info = sql.insertEvent.run(event.id, streamId, revision, event.type, event.data, event.metadata, recordedAt)
      position = BigInt(info.lastInsertRowid)
      written?.push({
        id: event.id,
        type: event.type,
        data: JSON.parse(event.data),
        metadata: recordedMetadata(event.metadata, event.id),
        streamId,
        revision,
        position,
        recordedAt: new Date(recordedAt),
      })
      revision++
    }
    return { nextExpectedRevision: revision - 1n, position }
  }

  async readStreamPage(streamId: string, { from, direction, limit }: StreamPageQuery): Promise<RecordedEvent[]> {
    const rows =
      direction === 'forwards'
        ? this.#readSql.readStreamForwards.all(streamId, from ?? 0n, limit)
        : this.#readSql.readStreamBackwards.all(streamId, from ?? MAX_REVISION, limit)
    return rows.map(eventFromRow)
  }

  async readAllPage(after: bigint, limit: number, filter: EventFilter | undefined): Promise<RecordedEvent[]> {
    const types = filter?.eventTypes === undefined ? null : JSON.stringify(filter.eventTypes)
    const prefix = filter?.streamPrefix ?? null
    return this.#readSql.readAll.all(after, types, types, prefix, prefix, prefix, limit).map(eventFromRow)
  }

  async headPosition(): Promise<bigint> {
    return this.#readSql.headPosition.get()?.head ?? 0n
  }

  async locateEvent(eventId: string): Promise<EventLocation | undefined> {
    const row = this.#sql.eventById.get(eventId)
    return row && { streamId: row.stream_id, revision: row.revision, position: row.position }
  }

  async streamHead(streamId: string): Promise<bigint | undefined> {
    return this.#readSql.streamHead.get(streamId)?.head ?? undefined
  }

  async deleteStream(streamId: string, mode: DeleteMode, expected: ExpectedRevision): Promise<void> {
    const sql = this.#sql
    const remove = this.#db.transaction(() => {
      const state = this.#streamState(streamId)
      decideDelete(streamId, expected, state)
      if (state === undefined && mode === 'soft') return
      sql.deleteStreamEvents.run(streamId)
      sql.deleteSnapshots.run(streamId)
      sql.upsertTombstone.run(streamId, state?.revision ?? -1n, mode === 'soft' ? 'soft_deleted' : 'hard_deleted')
    })
    await this.#exclusive(() => guard(() => (this.processing.insideTransaction() ? remove() : remove.immediate())))
  }

  async close(): Promise<void> {
    if (this.#reader.open) this.#reader.close()
    if (this.#db.open) this.#db.close()
  }
}

/**
 * Switches the file to WAL. When several processes open the same new file at once, the switch can
 * fail with SQLITE_BUSY without waiting on the busy handler: wait a moment and try again. A
 * constructor cannot await, so the wait blocks, briefly, as SQLite's own busy handler would.
 */
function enableWal(db: Database.Database, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs
  const pause = new Int32Array(new SharedArrayBuffer(4))
  for (;;) {
    try {
      db.pragma('journal_mode = WAL')
      return
    } catch (error) {
      const code = String((error as { code?: unknown }).code)
      if (!code.startsWith('SQLITE_BUSY') || Date.now() > deadline)
        return void guard(() => {
          throw error
        })
      Atomics.wait(pause, 0, 0, 5 + Math.random() * 20)
    }
  }
}

/** SQLITE_BUSY and friends mean another process held the lock too long: the write did not happen. */
function guard<T>(work: () => T): T {
  try {
    return work()
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))) {
      throw new StoreUnavailableError('SQLite database is locked by another connection', error)
    }
    throw error
  }
}

/**
 * The embedded event store: one SQLite file (WAL mode), no server.
 *
 * @example
 * const store = createSqliteEventStore({ path: 'events.db' })
 * await store.migrate()
 * await store.appendToStream('account-1', [{ type: 'Opened', data: { owner: 'Ada' } }], { expectedRevision: 'no_stream' })
 */
export function createSqliteEventStore(options: SqliteEventStoreOptions): EventStore {
  return createEventStore(new SqliteBackend(options), options)
}
