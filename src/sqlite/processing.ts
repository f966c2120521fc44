import { AsyncLocalStorage } from 'node:async_hooks'
import type { Database } from 'better-sqlite3'
import {
  type ChangeSignal,
  type DocumentStore,
  documentId,
  documentLimit,
  documentText,
  fieldConditions,
  leaseLost,
  type Mutex,
  type ParkedListing,
  type ParkedRecord,
  type PartitionRow,
  type PartitionState,
  type ProcessingBackend,
  type ProcessingTx,
  partitionCountMismatch,
  processorRunning,
} from '../core/internal.js'
import type { ParkedRowSql, PartitionRowSql, ProcessingStatements } from './processing-sql.js'

export interface SqliteProcessingDeps {
  db: Database
  /** Taken by every write of the store, so a processor's open transaction never mixes with them. */
  writeLock: Mutex
  statements: () => ProcessingStatements
  guard: <T>(work: () => T) => T
  changes: ChangeSignal
  pollIntervalMs: number
  headPosition: () => Promise<bigint>
}

/**
 * Processing state in the store's SQLite file. A transaction is BEGIN IMMEDIATE on the store's own
 * connection, held across the handler's awaits under the store's write lock: appends made by this
 * process meanwhile wait for it (or, from inside the handler, join it; see `insideTransaction`).
 */
export class SqliteProcessing implements ProcessingBackend {
  readonly #deps: SqliteProcessingDeps
  /** Set while a processor transaction runs: what to do once it commits. */
  readonly #inside = new AsyncLocalStorage<(() => void)[]>()

  readonly handle: Database
  readonly changes: ChangeSignal
  readonly pollIntervalMs: number
  readonly headPosition: () => Promise<bigint>

  constructor(deps: SqliteProcessingDeps) {
    this.#deps = deps
    this.handle = deps.db
    this.changes = deps.changes
    this.pollIntervalMs = deps.pollIntervalMs
    this.headPosition = deps.headPosition
  }

  /** True inside a processor transaction of this store: its writes must join it, not wait for it. */
  insideTransaction(): boolean {
    return this.#inside.getStore() !== undefined
  }

  /** A transaction handle on the store's connection, for work already inside a transaction. */
  transactionHandle(): ProcessingTx {
    return new SqliteTx(this.#deps)
  }

  /** Runs `effect` once the current transaction commits (at once outside one). */
  afterCommit(effect: () => void): void {
    const pending = this.#inside.getStore()
    if (pending === undefined) effect()
    else pending.push(effect)
  }

  transaction<T>(work: (tx: ProcessingTx) => Promise<T>): Promise<T> {
    const { db, writeLock, guard } = this.#deps
    return writeLock.run(async () => {
      guard(() => db.exec('BEGIN IMMEDIATE'))
      const committed: (() => void)[] = []
      try {
        const result = await this.#inside.run(committed, () => work(new SqliteTx(this.#deps)))
        db.exec('COMMIT')
        for (const effect of committed) effect()
        return result
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK')
        throw error
      }
    })
  }

  #write<T>(work: (sql: ProcessingStatements) => T): Promise<T> {
    const { db, writeLock, guard, statements } = this.#deps
    return writeLock.run(() => guard(() => db.transaction(() => work(statements())).immediate()))
  }

  ensurePartitions(processor: string, count: number, start: bigint): Promise<void> {
    return this.#write((sql) => {
      const stored = Number(sql.countPartitions.get(processor)?.n ?? 0n)
      if (stored === 0) for (let p = 0; p < count; p++) sql.insertPartition.run(processor, p, start)
      else if (stored !== count) throw partitionCountMismatch(processor, stored, count)
    })
  }

  heartbeat(processor: string, member: string, leaseMs: number): Promise<string[]> {
    return this.#write((sql) => {
      const now = Date.now()
      sql.upsertMember.run(processor, member, now + leaseMs)
      sql.forgetExpiredMembers.run(processor, now)
      sql.renewLeases.run(now + leaseMs, processor, member)
      return sql.members.all(processor).map((row) => row.member)
    })
  }

  rebalance(processor: string, member: string, wanted: readonly number[], leaseMs: number): Promise<PartitionState[]> {
    return this.#write((sql) => {
      const now = Date.now()
      const list = JSON.stringify(wanted)
      sql.releaseUnwanted.run(processor, member, list)
      sql.claim.run(member, now + leaseMs, processor, list, member, now)
      return sql.held.all(processor, member).map(toPartition)
    })
  }

  leave(processor: string, member: string): Promise<void> {
    return this.#write((sql) => {
      sql.releaseAll.run(processor, member)
      sql.deleteMember.run(processor, member)
    })
  }

  async partitions(processor: string): Promise<PartitionRow[]> {
    return this.#deps.statements().partitions.all(processor).map(toPartitionRow)
  }

  resetCheckpoints(processor: string, position: bigint, member: string): Promise<void> {
    return this.#write((sql) => {
      if (sql.busyElsewhere.get(processor, member, Date.now()) !== undefined) throw processorRunning(processor)
      sql.resetAll.run(position, processor)
    })
  }

  async listParked(processor: string): Promise<ParkedListing[]> {
    return this.#deps
      .statements()
      .listParked.all(processor)
      .map((row) => ({ ...toParked(row), held: Number(row.held ?? 0n) }))
  }

  async parkedStreams(processor: string, partitions: readonly number[]): Promise<string[]> {
    return this.#deps
      .statements()
      .parkedStreams.all(processor, JSON.stringify(partitions))
      .map((row) => row.stream_id)
  }

  documents(namespace: string, collection: string): DocumentStore {
    return new SqliteDocuments(this.#deps.statements, namespace, collection, (work) => this.#write(() => work()))
  }
}

class SqliteTx implements ProcessingTx {
  constructor(private readonly deps: SqliteProcessingDeps) {}

  get handle(): Database {
    return this.deps.db
  }

  get #sql(): ProcessingStatements {
    return this.deps.statements()
  }

  async saveCheckpoints(processor: string, member: string, checkpoints: ReadonlyMap<number, bigint>): Promise<void> {
    for (const [partition, position] of checkpoints) {
      const { changes } = this.#sql.saveCheckpoint.run(position, processor, partition, member)
      if (changes === 0) throw leaseLost(processor, partition)
    }
  }

  async lockStream(processor: string, streamId: string): Promise<boolean> {
    // BEGIN IMMEDIATE already holds the database's only write lock.
    return this.#sql.streamParked.get(processor, streamId) !== undefined
  }

  async insertParked(processor: string, r: ParkedRecord): Promise<void> {
    const values = [r.id, r.streamId, r.partition, r.position, r.eventId, r.status, r.error, r.attempts]
    this.#sql.insertParked.run(processor, ...values, r.parkedAt.getTime())
  }

  async getParked(processor: string, id: string): Promise<ParkedRecord | undefined> {
    const row = this.#sql.getParked.get(processor, id)
    return row && toParked(row)
  }

  async deleteParked(processor: string, id: string): Promise<void> {
    this.#sql.deleteParked.run(processor, id)
  }

  async recordFailure(processor: string, id: string, error: string): Promise<void> {
    this.#sql.recordFailure.run(error, processor, id)
  }

  async promoteNextHeld(processor: string, streamId: string): Promise<ParkedRecord | undefined> {
    const row = this.#sql.nextHeld.get(processor, streamId)
    if (row === undefined) return undefined
    this.#sql.promote.run(processor, row.id)
    return { ...toParked(row), status: 'parked' }
  }

  documents(namespace: string, collection: string): DocumentStore {
    return new SqliteDocuments(this.deps.statements, namespace, collection, async (work) => work())
  }

  async dropDocuments(namespace: string): Promise<void> {
    this.#sql.dropDocuments.run(namespace)
  }

  async dropProcessor(processor: string): Promise<void> {
    const sql = this.#sql
    for (const drop of [sql.dropPartitions, sql.dropMembers, sql.dropParked]) drop.run(processor)
  }
}

class SqliteDocuments implements DocumentStore {
  constructor(
    private readonly statements: () => ProcessingStatements,
    private readonly namespace: string,
    private readonly collection: string,
    private readonly write: (work: () => void) => Promise<void>,
  ) {}

  async get(id: string): Promise<unknown> {
    const row = this.statements().getDocument.get(this.namespace, this.collection, documentId(id))
    return row === undefined ? undefined : JSON.parse(row.doc)
  }

  async upsert(id: string, doc: unknown): Promise<void> {
    const text = documentText(id, doc)
    return this.write(() => void this.statements().upsertDocument.run(this.namespace, this.collection, id, text))
  }

  async delete(id: string): Promise<void> {
    documentId(id)
    return this.write(() => void this.statements().deleteDocument.run(this.namespace, this.collection, id))
  }

  async find(where: Record<string, unknown>, options?: { limit?: number }): Promise<unknown[]> {
    const conditions = fieldConditions(where).map(({ field, value, type }) => ({
      path: `$.${field}`,
      type,
      value: typeof value === 'boolean' ? undefined : value,
    }))
    const rows = this.statements().findDocuments.all(
      this.namespace,
      this.collection,
      JSON.stringify(conditions),
      documentLimit(options),
    )
    return rows.map((row) => JSON.parse(row.doc))
  }

  async all(options?: { limit?: number }): Promise<{ id: string; doc: unknown }[]> {
    const rows = this.statements().allDocuments.all(this.namespace, this.collection, documentLimit(options))
    return rows.map((row) => ({ id: row.id, doc: JSON.parse(row.doc) }))
  }
}

const toPartition = (row: PartitionRowSql): PartitionState => ({ partition: Number(row.partition), position: row.position })

const toPartitionRow = (row: PartitionRowSql): PartitionRow => ({
  ...toPartition(row),
  owner: row.owner,
  leaseUntil: Number(row.lease_until),
})

const toParked = (row: ParkedRowSql): ParkedRecord => ({
  id: row.id,
  streamId: row.stream_id,
  partition: Number(row.partition),
  position: row.position,
  eventId: row.event_id,
  status: row.status,
  error: row.error,
  attempts: Number(row.attempts),
  parkedAt: new Date(Number(row.parked_at)),
})
