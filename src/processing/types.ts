import type { DocumentStore } from '../core/processing-port.js'
import type { EventFilter, EventStore, Logger, RecordedEvent } from '../core/types.js'

/** What a handler gets besides the event. */
export interface ProcessorContext<Tx = unknown> {
  /**
   * The open transaction the checkpoint commits in: a `pg` client on PostgreSQL, the
   * better-sqlite3 `Database` on SQLite, `undefined` in memory. Read-model writes made through it
   * commit with the checkpoint, so each event's effect is applied exactly once.
   */
  readonly tx: Tx
  readonly processor: string
  readonly partition: number
  /** 1 on the first try of this event. */
  readonly attempt: number
  /** A document collection of this processor's read model, in the same transaction. */
  documents<Doc = unknown>(collection: string): DocumentStore<Doc>
}

export type ProcessorHandler<Tx = unknown> = (event: RecordedEvent, ctx: ProcessorContext<Tx>) => Promise<void> | void

/** Handles several events (in log order) in one transaction. */
export type ProcessorBatchHandler<Tx = unknown> = (events: RecordedEvent[], ctx: ProcessorContext<Tx>) => Promise<void> | void

export type ProcessorStart = 'start' | 'end' | { position: bigint } | { time: Date }

export interface RetryPolicy {
  /** Tries per event before it is parked (or the processor stops). Default 5. */
  maxAttempts?: number
  /** Ceiling of the first delay, in ms; the ceiling doubles per attempt and each delay is drawn below it. Default 100. */
  initialDelayMs?: number
  /** Largest ceiling, in ms. Default 10,000. */
  maxDelayMs?: number
}

export interface ProcessorOptions<Tx = unknown> {
  store: EventStore
  /** Names the checkpoints: instances with the same name share the work. */
  name: string
  /** Called once per event. Give this or `handleBatch`. */
  handler?: ProcessorHandler<Tx>
  /**
   * Called with many events at once (fewer round trips for a read model). When it throws, the
   * batch is rolled back and its events are handled one by one, so retries and parking still
   * concern single events.
   */
  handleBatch?: ProcessorBatchHandler<Tx>
  filter?: EventFilter
  /** Where a processor that has no checkpoint yet begins. Default `'start'`. */
  startFrom?: ProcessorStart
  /** Units of work leased to instances; events of one stream always fall in the same one. Default 8. */
  partitions?: number
  retry?: RetryPolicy
  /**
   * After the last attempt: `'park'` sets the event aside and holds back the rest of its stream
   * while other streams flow on; `'stop'` halts the processor with PROCESSOR_FAILED. Default `'park'`.
   */
  onFailure?: 'park' | 'stop'
  /** Most events read and committed per transaction. Default 500. */
  batchSize?: number
  /** How long a lease lasts without a heartbeat; a dead instance's partitions move after it. Default 10,000 ms. */
  leaseMs?: number
  logger?: Logger
}

export interface ParkedEvent {
  id: string
  streamId: string
  position: bigint
  eventId: string
  partition: number
  error: { name?: string; message: string; code?: string }
  attempts: number
  parkedAt: Date
  /** Later events of the same stream waiting behind this one. */
  held: number
}

export interface ParkedEvents {
  list(): Promise<ParkedEvent[]>
  /**
   * Handles the parked event again, then the held ones in order. Resolves with how many events were
   * handled; rejects with PARKED_EVENT_FAILED when one fails again (it stays or becomes the parked one).
   */
  retry(id: string): Promise<{ handled: number }>
  /** Drops the parked event without handling it, then handles the held ones in order. */
  skip(id: string): Promise<{ handled: number }>
}

export interface PartitionStats {
  partition: number
  position: bigint
  /** Positions in the log between this partition's checkpoint and the head. */
  lagEvents: bigint
  /** Age of the oldest event this partition has not handled yet, 0 when caught up. */
  lagSeconds: number
}

export interface ProcessorStats {
  name: string
  member: string
  status: 'stopped' | 'running' | 'failed'
  /** Partitions this instance holds now. */
  partitions: PartitionStats[]
  lagEvents: bigint
  lagSeconds: number
  handled: number
  /** Failed attempts, retried or not; a failed batch counts once. */
  failures: number
  parked: number
  /** Handling time per event (per batch / batch size for batch handlers), over the last 1,024. */
  processingMs: { count: number; p50: number; p95: number; p99: number; max: number }
}

export interface WaitForOptions {
  /** Default 5,000 ms; then WAIT_TIMEOUT. */
  timeoutMs?: number
}

export interface Processor {
  readonly name: string
  start(): Promise<void>
  /** Finishes the transaction in progress, gives up this instance's leases and stops. */
  stop(): Promise<void>
  /** Settles when the processor stops: rejects with PROCESSOR_FAILED if a failure stopped it. */
  readonly done: Promise<void>
  stats(): ProcessorStats
  readonly parked: ParkedEvents
  /** Moves every checkpoint back (or forward); only while no instance of this processor runs. */
  reset(to: ProcessorStart): Promise<void>
  /** Resolves once every partition has handled the log up to `position`. */
  waitFor(position: bigint, options?: WaitForOptions): Promise<void>
  /** A document collection of this processor's read model, read outside its transactions. */
  documents<Doc = unknown>(collection: string): DocumentStore<Doc>
}
