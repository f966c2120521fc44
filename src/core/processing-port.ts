import type { ChangeSignal } from './signal.js'
import type { EventStore } from './types.js'

/**
 * The storage a processor needs besides the log: partition leases with their checkpoints, member
 * heartbeats and parked events. Each built-in store provides it in its own database, so a
 * projection's read-model writes and its checkpoint commit in one transaction.
 */
export interface ProcessingBackend {
  /** Runs `work` in one transaction of the store's database; a throw rolls all of it back. */
  transaction<T>(work: (tx: ProcessingTx) => Promise<T>): Promise<T>
  /**
   * Creates partition rows 0..count-1, checkpointed at `start`, unless the processor exists;
   * refuses a different count for an existing processor.
   */
  ensurePartitions(processor: string, count: number, start: bigint): Promise<void>
  /** Position of the last event in the log, 0 when empty. */
  headPosition(): Promise<bigint>
  /**
   * Marks `member` alive for `leaseMs`, renews the leases it holds, forgets members whose time ran
   * out, and returns the live members sorted (the caller derives its share from its index).
   */
  heartbeat(processor: string, member: string, leaseMs: number): Promise<string[]>
  /**
   * Takes each wanted partition that is free, expired or already this member's, and gives up the
   * member's partitions that are not wanted. Returns what the member now holds, with checkpoints.
   */
  rebalance(processor: string, member: string, wanted: readonly number[], leaseMs: number): Promise<PartitionState[]>
  /** Gives up every lease of `member` and forgets it. */
  leave(processor: string, member: string): Promise<void>
  /** Every partition of the processor, leased or not. */
  partitions(processor: string): Promise<PartitionRow[]>
  /** Moves every checkpoint to `position`; refuses while another member holds a live lease. */
  resetCheckpoints(processor: string, position: bigint, member: string): Promise<void>
  /** Parked events (not the held ones), oldest first, each with how many events wait behind it. */
  listParked(processor: string): Promise<ParkedListing[]>
  /** Streams with a parked event in these partitions. */
  parkedStreams(processor: string, partitions: readonly number[]): Promise<string[]>
  /** Document collections read (and written) outside a processor's transaction. */
  documents(namespace: string, collection: string): DocumentStore
  /** The database handle projections read with outside a processor (same shape as `ProcessingTx.handle`). */
  readonly handle: unknown
  readonly changes: ChangeSignal
  readonly pollIntervalMs: number
}

export interface PartitionState {
  partition: number
  /** Every event of this partition at or before this position has been handled. */
  position: bigint
}

export interface PartitionRow extends PartitionState {
  owner: string | null
  /** Epoch ms until which the owner's lease runs. */
  leaseUntil: number
}

export type ParkedStatus = 'parked' | 'held'

export interface ParkedRecord {
  id: string
  streamId: string
  partition: number
  position: bigint
  eventId: string
  status: ParkedStatus
  /** The failure as JSON text: `{ name, message, code? }`; empty for held events. */
  error: string
  attempts: number
  parkedAt: Date
}

export interface ParkedListing extends ParkedRecord {
  /** Events of the same stream held back behind this one. */
  held: number
}

/** One transaction of the processing backend. */
export interface ProcessingTx {
  /** What user code writes its read model with: a pg client, a better-sqlite3 Database, or undefined. */
  readonly handle: unknown
  /** Saves checkpoints; throws LEASE_LOST (rolling back) when the member no longer holds one of them. */
  saveCheckpoints(processor: string, member: string, checkpoints: ReadonlyMap<number, bigint>): Promise<void>
  /**
   * Locks the stream's parked state until the transaction ends (so parking, holding and releasing
   * one stream never interleave) and says whether it has a parked event.
   */
  lockStream(processor: string, streamId: string): Promise<boolean>
  insertParked(processor: string, record: ParkedRecord): Promise<void>
  getParked(processor: string, id: string): Promise<ParkedRecord | undefined>
  deleteParked(processor: string, id: string): Promise<void>
  /** Records another failed attempt on a parked event. */
  recordFailure(processor: string, id: string, error: string): Promise<void>
  /** Makes the stream's oldest held event the parked one and returns it. */
  promoteNextHeld(processor: string, streamId: string): Promise<ParkedRecord | undefined>
  /** The document collections of a read model, in this transaction. */
  documents(namespace: string, collection: string): DocumentStore
  /** Deletes every document of a namespace (a replaced generation of a read model). */
  dropDocuments(namespace: string): Promise<void>
  /** Forgets a processor: its checkpoints, leases, members and parked events. */
  dropProcessor(processor: string): Promise<void>
}

/** id → JSON document, the read-model helper for the common case. */
export interface DocumentStore<Doc = unknown> {
  get(id: string): Promise<Doc | undefined>
  upsert(id: string, doc: Doc): Promise<void>
  delete(id: string): Promise<void>
  /** Documents whose top-level `field` equals `value`, ordered by id. */
  find(where: Record<string, string | number | boolean | null>, options?: { limit?: number }): Promise<Doc[]>
  /** Every document, ordered by id. */
  all(options?: { limit?: number }): Promise<{ id: string; doc: Doc }[]>
}

/** Key under which a store hands its processing backend to `createProcessor`. */
export const PROCESSING = Symbol.for('eventfold.processing')

export interface ProcessingCapable {
  [PROCESSING]?: () => ProcessingBackend
}

export const processingOf = (store: EventStore): ProcessingBackend | undefined =>
  (store as EventStore & ProcessingCapable)[PROCESSING]?.()
