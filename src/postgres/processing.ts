import { createHash } from 'node:crypto'
import type pg from 'pg'
import {
  type ChangeSignal,
  type DocumentStore,
  documentId,
  documentLimit,
  documentText,
  fieldConditions,
  leaseLost,
  type ParkedListing,
  type ParkedRecord,
  type PartitionRow,
  type PartitionState,
  type ProcessingBackend,
  type ProcessingTx,
  partitionCountMismatch,
  processorRunning,
} from '../core/internal.js'
import type { Logger } from '../core/types.js'
import { toStoreError } from './errors.js'
import type { SchemaNames } from './identifiers.js'
import * as sql from './processing-sql.js'
import type { Query } from './sql.js'

type Run = <Row extends object>(query: Query) => Promise<Row[]>

export interface PostgresProcessingDeps {
  pool: pg.Pool
  names: SchemaNames
  changes: ChangeSignal
  pollIntervalMs: number
  headPosition: () => Promise<bigint>
  logger: Logger | undefined
}

/**
 * Processing state in the store's schema. A processor transaction is one pooled connection in
 * BEGIN … COMMIT; the handler gets that client, so its read-model writes commit with the checkpoint.
 */
export class PostgresProcessing implements ProcessingBackend {
  readonly #deps: PostgresProcessingDeps
  readonly #run: Run

  readonly handle: pg.Pool
  readonly changes: ChangeSignal
  readonly pollIntervalMs: number
  readonly headPosition: () => Promise<bigint>

  constructor(deps: PostgresProcessingDeps) {
    this.#deps = deps
    this.handle = deps.pool
    this.changes = deps.changes
    this.pollIntervalMs = deps.pollIntervalMs
    this.headPosition = deps.headPosition
    this.#run = async <Row extends object>(query: Query) => {
      try {
        return (await deps.pool.query<Row>(query)).rows
      } catch (error) {
        throw toStoreError(error)
      }
    }
  }

  async transaction<T>(work: (tx: ProcessingTx) => Promise<T>): Promise<T> {
    const { pool, logger } = this.#deps
    let client: pg.PoolClient
    try {
      client = await pool.connect()
    } catch (error) {
      throw toStoreError(error)
    }
    // A checked-out client with no listener would crash the process if its connection dropped now.
    const onError = (error: Error) => logger?.warn?.('eventfold: connection lost in a processor transaction', { error })
    client.on('error', onError)
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await work(new PostgresTx(client, this.#deps.names))
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError
      })
      throw toStoreError(error)
    } finally {
      client.off('error', onError)
      client.release(broken)
    }
  }

  async ensurePartitions(processor: string, count: number, start: bigint): Promise<void> {
    const names = this.#deps.names
    const read = async () => Number((await this.#run<{ n: bigint }>(sql.countPartitions(names, processor)))[0]?.n ?? 0n)
    let stored = await read()
    if (stored === 0) {
      await this.#run(sql.insertPartitions(names, processor, count, start))
      stored = await read()
    }
    if (stored !== count) throw partitionCountMismatch(processor, stored, count)
  }

  async heartbeat(processor: string, member: string, leaseMs: number): Promise<string[]> {
    const rows = await this.#run<{ member: string }>(sql.heartbeat(this.#deps.names, processor, member, leaseMs))
    return rows.map((row) => row.member)
  }

  async rebalance(processor: string, member: string, wanted: readonly number[], leaseMs: number): Promise<PartitionState[]> {
    const rows = await this.#run<{ partition: number; position: bigint }>(
      sql.rebalance(this.#deps.names, processor, member, wanted, leaseMs),
    )
    return rows.map((row) => ({ partition: Number(row.partition), position: row.position }))
  }

  async leave(processor: string, member: string): Promise<void> {
    await this.#run(sql.leave(this.#deps.names, processor, member))
  }

  async partitions(processor: string): Promise<PartitionRow[]> {
    const rows = await this.#run<{ partition: number; position: bigint; owner: string | null; lease_until: bigint }>(
      sql.partitions(this.#deps.names, processor),
    )
    // The adapter's type parsers return int4 as text.
    return rows.map((r) => ({
      partition: Number(r.partition),
      position: r.position,
      owner: r.owner,
      leaseUntil: Number(r.lease_until),
    }))
  }

  async resetCheckpoints(processor: string, position: bigint, member: string): Promise<void> {
    const rows = await this.#run(sql.resetCheckpoints(this.#deps.names, processor, position, member))
    if (rows.length === 0 && (await this.partitions(processor)).length > 0) throw processorRunning(processor)
  }

  async listParked(processor: string): Promise<ParkedListing[]> {
    const rows = await this.#run<sql.ParkedRowPg>(sql.listParked(this.#deps.names, processor))
    return rows.map((row) => ({ ...toParked(row), held: Number(row.held ?? 0n) }))
  }

  async parkedStreams(processor: string, partitions: readonly number[]): Promise<string[]> {
    const rows = await this.#run<{ stream_id: string }>(sql.parkedStreams(this.#deps.names, processor, partitions))
    return rows.map((row) => row.stream_id)
  }

  documents(namespace: string, collection: string): DocumentStore {
    return new PostgresDocuments(this.#run, this.#deps.names, namespace, collection)
  }
}

class PostgresTx implements ProcessingTx {
  readonly #run: Run

  constructor(
    readonly handle: pg.PoolClient,
    private readonly names: SchemaNames,
  ) {
    this.#run = async <Row extends object>(query: Query) => (await handle.query<Row>(query)).rows
  }

  async saveCheckpoints(processor: string, member: string, checkpoints: ReadonlyMap<number, bigint>): Promise<void> {
    if (checkpoints.size === 0) return
    const saved = await this.#run<{ partition: number }>(sql.saveCheckpoints(this.names, processor, member, checkpoints))
    if (saved.length === checkpoints.size) return
    const done = new Set(saved.map((row) => Number(row.partition)))
    const lost = [...checkpoints.keys()].find((p) => !done.has(p)) as number
    throw leaseLost(processor, lost)
  }

  async lockStream(processor: string, streamId: string): Promise<boolean> {
    await this.#run(sql.lockStream(streamLockKey(this.names.name, processor, streamId)))
    return (await this.#run(sql.streamParked(this.names, processor, streamId))).length > 0
  }

  async insertParked(processor: string, record: ParkedRecord): Promise<void> {
    await this.#run(sql.insertParked(this.names, processor, record))
  }

  async getParked(processor: string, id: string): Promise<ParkedRecord | undefined> {
    const [row] = await this.#run<sql.ParkedRowPg>(sql.getParked(this.names, processor, id))
    return row && toParked(row)
  }

  async deleteParked(processor: string, id: string): Promise<void> {
    await this.#run(sql.deleteParked(this.names, processor, id))
  }

  async recordFailure(processor: string, id: string, error: string): Promise<void> {
    await this.#run(sql.recordFailure(this.names, processor, id, error))
  }

  async promoteNextHeld(processor: string, streamId: string): Promise<ParkedRecord | undefined> {
    const [row] = await this.#run<sql.ParkedRowPg>(sql.promoteNextHeld(this.names, processor, streamId))
    return row && toParked(row)
  }

  documents(namespace: string, collection: string): DocumentStore {
    return new PostgresDocuments(this.#run, this.names, namespace, collection)
  }

  async dropDocuments(namespace: string): Promise<void> {
    await this.#run(sql.dropDocuments(this.names, namespace))
  }

  async dropProcessor(processor: string): Promise<void> {
    await this.#run(sql.dropProcessor(this.names, processor))
  }
}

class PostgresDocuments implements DocumentStore {
  constructor(
    private readonly run: Run,
    private readonly names: SchemaNames,
    private readonly namespace: string,
    private readonly collection: string,
  ) {}

  async get(id: string): Promise<unknown> {
    const [row] = await this.run<{ doc: string }>(sql.getDocument(this.names, this.namespace, this.collection, documentId(id)))
    return row === undefined ? undefined : JSON.parse(row.doc)
  }

  async upsert(id: string, doc: unknown): Promise<void> {
    const text = documentText(id, doc)
    await this.run(sql.upsertDocument(this.names, this.namespace, this.collection, id, text))
  }

  async delete(id: string): Promise<void> {
    await this.run(sql.deleteDocument(this.names, this.namespace, this.collection, documentId(id)))
  }

  async find(where: Record<string, unknown>, options?: { limit?: number }): Promise<unknown[]> {
    return (await this.#query(fieldConditions(where), options)).map((row) => row.doc)
  }

  all(options?: { limit?: number }): Promise<{ id: string; doc: unknown }[]> {
    return this.#query([], options)
  }

  async #query(where: ReturnType<typeof fieldConditions>, options: { limit?: number } | undefined) {
    const query = sql.findDocuments(this.names, this.namespace, this.collection, where, documentLimit(options))
    const rows = await this.run<{ id: string; doc: string }>(query)
    return rows.map((row) => ({ id: row.id, doc: JSON.parse(row.doc) as unknown }))
  }
}

/** One advisory lock per schema, processor and stream: parking, holding and releasing serialize on it. */
function streamLockKey(schema: string, processor: string, streamId: string): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(['eventfold:parked', schema, processor, streamId]))
    .digest()
  return digest.readBigInt64BE(0).toString()
}

const toParked = (row: sql.ParkedRowPg): ParkedRecord => ({
  id: row.id,
  streamId: row.stream_id,
  partition: Number(row.partition),
  position: row.position,
  eventId: row.event_id,
  status: row.status,
  error: row.error,
  attempts: Number(row.attempts),
  parkedAt: new Date(Number(row.parked_ms)),
})
