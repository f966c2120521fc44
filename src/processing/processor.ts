import { randomUUID } from 'node:crypto'
import { backoff } from '../command/backoff.js'
import { maxOf, minOf } from '../core/bigints.js'
import { EventfoldError, isEventfoldError } from '../core/errors.js'
import { type DocumentStore, describeError, type ProcessingBackend } from '../core/internal.js'
import { positiveInteger } from '../core/numbers.js'
import { sleep } from '../core/timing.js'
import type { RecordedEvent } from '../core/types.js'
import { type HandlingSetup, handleInTx, parkedRecord, userHandler } from './handling.js'
import { Membership } from './membership.js'
import { backendOf } from './options.js'
import { ParkedApi } from './parked.js'
import { partitionOf } from './partitioning.js'
import { type Batch, readBatch } from './read-batch.js'
import { checkpointFor } from './start-position.js'
import { Durations } from './stats.js'
import type { Processor, ProcessorOptions, ProcessorStart, ProcessorStats, WaitForOptions } from './types.js'
import { waitForCheckpoints } from './wait-for.js'

class ProcessorImpl implements Processor {
  readonly name: string
  readonly parked: ParkedApi
  #done: Promise<void>
  readonly #options: ProcessorOptions
  readonly #backend: ProcessingBackend
  readonly #setup: HandlingSetup
  readonly #membership: Membership
  readonly #partitions: number
  readonly #batchSize: number
  readonly #retry: ReturnType<typeof backoff>
  /** Checkpoints of the partitions this instance holds. */
  readonly #held = new Map<number, bigint>()
  /** Streams that may have a parked event: their next events pay for a check. */
  readonly #suspect = new Set<string>()
  readonly #durations = new Durations()
  readonly #counts = { handled: 0, failures: 0, parked: 0 }
  #head = 0n
  #oldestPending: Date | undefined
  #status: ProcessorStats['status'] = 'stopped'
  #abort = new AbortController()
  #loop: Promise<void> | undefined
  #starting: Promise<void> | undefined
  #settle: { resolve: () => void; reject: (error: unknown) => void } = { resolve: () => {}, reject: () => {} }
  #progress = new Set<() => void>()

  constructor(options: ProcessorOptions) {
    this.#options = options
    this.name = options.name
    this.#backend = backendOf(options)
    this.#partitions = positiveInteger(options.partitions ?? 8, 'partitions')
    this.#batchSize = positiveInteger(options.batchSize ?? 500, 'batchSize')
    const leaseMs = positiveInteger(options.leaseMs ?? 10_000, 'leaseMs')
    const retry = options.retry ?? {}
    this.#retry = backoff(positiveInteger(retry.maxAttempts ?? 5, 'retry.maxAttempts') - 1, {
      initialDelayMs: retry.initialDelayMs ?? 100,
      maxDelayMs: retry.maxDelayMs ?? 10_000,
    })
    const member = `${options.name}/${randomUUID()}`
    const base = { name: options.name, member, partitionOf: (id: string) => partitionOf(id, this.#partitions) }
    this.#setup = { ...base, handle: userHandler(base, options.handler, options.handleBatch) }
    this.#membership = new Membership(this.#backend, options.name, member, this.#partitions, leaseMs, options.logger)
    this.parked = new ParkedApi(this.#backend, options.store, this.#setup, () => this.#wake())
    this.#done = this.#newRun()
  }

  /** Settles when the current (or last) run ends. */
  get done(): Promise<void> {
    return this.#done
  }

  #newRun(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject }
    })
    done.catch(() => {})
    return done
  }

  start(): Promise<void> {
    // Concurrent calls share one start; a processor stopped (or failed) earlier starts a new run.
    this.#starting ??= this.#start().finally(() => {
      this.#starting = undefined
    })
    return this.#starting
  }

  async #start(): Promise<void> {
    if (this.#loop !== undefined && this.#status === 'running') return
    if (this.#loop !== undefined) {
      await this.#loop
      this.#abort = new AbortController()
      this.#done = this.#newRun()
    }
    const head = () => this.#backend.headPosition()
    const start = await checkpointFor(this.#options.store, this.#options.startFrom ?? 'start', head)
    await this.#backend.ensurePartitions(this.name, this.#partitions, start)
    await this.#membership.join()
    this.#status = 'running'
    this.#loop = this.#run()
  }

  async stop(): Promise<void> {
    await this.#starting?.catch(() => {})
    if (this.#loop === undefined) return
    this.#abort.abort()
    await this.#loop
  }

  async #run(): Promise<void> {
    let failure: unknown
    try {
      while (!this.#abort.signal.aborted) await this.#step()
    } catch (error) {
      failure = error
    }
    await this.#membership.leave().catch(() => {})
    this.#held.clear()
    this.#status = failure === undefined ? 'stopped' : 'failed'
    this.#wake()
    if (failure === undefined) this.#settle.resolve()
    else this.#settle.reject(failure)
  }

  async #step(): Promise<void> {
    const since = this.#backend.changes.version
    try {
      await this.#syncPartitions()
      if (this.#held.size === 0) return this.#idle(since)
      const batch = await this.#read()
      if (batch.events.length === 0 && !this.#behind(batch.end)) return this.#idle(since)
      await this.#process(batch)
    } catch (error) {
      if (isEventfoldError(error, 'PROCESSOR_FAILED')) throw error
      if (isEventfoldError(error, 'STORE_CLOSED')) return this.#abort.abort()
      // A lost lease or an unreachable database: nothing was committed; look again shortly.
      this.#options.logger?.warn?.('eventfold: processor step failed', { processor: this.name, error })
      this.#membership.invalidate()
      await this.#idle(since, 250)
    }
  }

  #idle(since: number, ms = this.#backend.pollIntervalMs): Promise<void> {
    this.#oldestPending = undefined
    return this.#backend.changes.waitForChange(since, Math.min(ms, 1000), this.#abort.signal)
  }

  async #syncPartitions(): Promise<void> {
    const claimed = await this.#membership.sync(this.#held)
    if (claimed === undefined) return
    const fresh = claimed.filter((c) => !this.#held.has(c.partition)).map((c) => c.partition)
    this.#held.clear()
    for (const { partition, position } of claimed) this.#held.set(partition, position)
    if (fresh.length > 0) {
      for (const stream of await this.#backend.parkedStreams(this.name, fresh)) this.#suspect.add(stream)
    }
  }

  #behind(end: bigint): boolean {
    for (const position of this.#held.values()) if (position < end) return true
    return false
  }

  async #read(): Promise<Batch> {
    const head = await this.#backend.headPosition()
    this.#head = head
    return readBatch(this.#options.store, minOf(this.#held.values(), 0n), head, this.#batchSize, this.#options.filter)
  }

  /** The events of held partitions this instance has not handled yet. */
  #due(events: RecordedEvent[]): RecordedEvent[] {
    return events.filter((e) => {
      const checkpoint = this.#held.get(this.#setup.partitionOf(e.streamId))
      return checkpoint !== undefined && e.position > checkpoint
    })
  }

  #advanced(end: bigint): Map<number, bigint> {
    const next = new Map<number, bigint>()
    for (const [partition, position] of this.#held) if (position < end) next.set(partition, end)
    return next
  }

  async #process(batch: Batch): Promise<void> {
    const due = this.#due(batch.events)
    this.#oldestPending = due[0]?.recordedAt
    const checkpoints = this.#advanced(batch.end)
    const started = performance.now()
    try {
      const outcome = await this.#backend.transaction(async (tx) => {
        const result = await handleInTx(this.#setup, tx, due, this.#suspect, 1)
        await tx.saveCheckpoints(this.name, this.#setup.member, checkpoints)
        return result
      })
      this.#record(due.length - outcome.held.length, started)
      for (const stream of outcome.cleared) this.#suspect.delete(stream)
      this.#commit(checkpoints)
    } catch (error) {
      if (isEventfoldError(error, 'LEASE_LOST') || isEventfoldError(error, 'STORE_UNAVAILABLE')) throw error
      this.#counts.failures++
      // Someone in the batch failed: find out who, one event per transaction.
      await this.#oneByOne(due, batch.end)
    }
  }

  async #oneByOne(events: RecordedEvent[], end: bigint): Promise<void> {
    for (const event of events) {
      if (this.#abort.signal.aborted) return
      const partition = this.#setup.partitionOf(event.streamId)
      await this.#handleOne(event, new Map([[partition, event.position]]))
    }
    const rest = this.#advanced(end)
    if (rest.size === 0) return
    await this.#backend.transaction((tx) => tx.saveCheckpoints(this.name, this.#setup.member, rest))
    this.#commit(rest)
  }

  /** Tries one event up to the retry limit, then parks it (or stops the processor). */
  async #handleOne(event: RecordedEvent, checkpoint: Map<number, bigint>): Promise<void> {
    let lastError: unknown
    for (let attempt = 1; attempt <= this.#retry.retries + 1; attempt++) {
      if (attempt > 1) {
        await sleep(this.#retry.delayMs(attempt - 2), this.#abort.signal)
        // Stopping: the event stays unhandled and its checkpoint unmoved, for the next owner.
        if (this.#abort.signal.aborted) return
      }
      const started = performance.now()
      try {
        const outcome = await this.#backend.transaction(async (tx) => {
          const result = await handleInTx(this.#setup, tx, [event], this.#suspect, attempt)
          await tx.saveCheckpoints(this.name, this.#setup.member, checkpoint)
          return result
        })
        this.#record(1 - outcome.held.length, started)
        for (const stream of outcome.cleared) this.#suspect.delete(stream)
        return this.#commit(checkpoint)
      } catch (error) {
        if (isEventfoldError(error, 'LEASE_LOST') || isEventfoldError(error, 'STORE_UNAVAILABLE')) throw error
        this.#counts.failures++
        lastError = error
      }
    }
    await this.#giveUp(event, checkpoint, lastError)
  }

  async #giveUp(event: RecordedEvent, checkpoint: Map<number, bigint>, error: unknown): Promise<void> {
    if (this.#options.onFailure === 'stop') {
      throw new EventfoldError(
        'PROCESSOR_FAILED',
        `Processor '${this.name}' stopped: event ${event.id} at position ${event.position} failed ${this.#retry.retries + 1} times`,
        { cause: error },
      )
    }
    const record = parkedRecord(this.#setup, event, 'parked', describeError(error), this.#retry.retries + 1)
    await this.#backend.transaction(async (tx) => {
      await tx.lockStream(this.name, event.streamId)
      await tx.insertParked(this.name, record)
      await tx.saveCheckpoints(this.name, this.#setup.member, checkpoint)
    })
    this.#options.logger?.warn?.('eventfold: event parked', { processor: this.name, eventId: event.id, error })
    this.#counts.parked++
    this.#suspect.add(event.streamId)
    this.#commit(checkpoint)
  }

  #record(handled: number, started: number): void {
    if (handled <= 0) return
    this.#counts.handled += handled
    this.#durations.add((performance.now() - started) / handled)
  }

  #commit(checkpoints: ReadonlyMap<number, bigint>): void {
    for (const [partition, position] of checkpoints) {
      if (this.#held.has(partition) && (this.#held.get(partition) as bigint) < position) this.#held.set(partition, position)
    }
    this.#wake()
  }

  #wake(): void {
    for (const wake of [...this.#progress]) wake()
  }

  stats(): ProcessorStats {
    const now = Date.now()
    const lagSeconds = this.#oldestPending === undefined ? 0 : Math.max(0, (now - this.#oldestPending.getTime()) / 1000)
    const partitions = [...this.#held].map(([partition, position]) => {
      const lagEvents = this.#head > position ? this.#head - position : 0n
      return { partition, position, lagEvents, lagSeconds: lagEvents > 0n ? lagSeconds : 0 }
    })
    return {
      name: this.name,
      member: this.#setup.member,
      status: this.#status,
      partitions,
      lagEvents: maxOf(
        partitions.map((p) => p.lagEvents),
        0n,
      ),
      lagSeconds: partitions.reduce((max, p) => Math.max(max, p.lagSeconds), 0),
      ...this.#counts,
      processingMs: this.#durations.summary(),
    }
  }

  async reset(to: ProcessorStart): Promise<void> {
    const position = await checkpointFor(this.#options.store, to, () => this.#backend.headPosition())
    await this.#backend.ensurePartitions(this.name, this.#partitions, position)
    await this.#backend.resetCheckpoints(this.name, position, this.#setup.member)
    for (const partition of this.#held.keys()) this.#held.set(partition, position)
  }

  documents<Doc = unknown>(collection: string): DocumentStore<Doc> {
    return this.#backend.documents(this.name, collection) as DocumentStore<Doc>
  }

  waitFor(position: bigint, options?: WaitForOptions): Promise<void> {
    return waitForCheckpoints({
      position,
      timeoutMs: options?.timeoutMs ?? 5_000,
      local: () => (this.#held.size === this.#partitions ? [...this.#held.values()] : undefined),
      stored: async () => (await this.#backend.partitions(this.name)).map((row) => row.position),
      progress: this.#progress,
      processor: this.name,
    })
  }
}

/**
 * A durable, checkpointed consumer of the log. Instances with the same name share the work by
 * partitions of the stream-id hash; each partition is leased to one instance at a time, so the
 * events of a stream are handled in order and never concurrently.
 *
 * @example
 * const p = createProcessor({ store, name: 'emails', handler: async (event) => send(event) })
 * await p.start()
 */
export function createProcessor<Tx = unknown>(options: ProcessorOptions<Tx>): Processor {
  return new ProcessorImpl(options as ProcessorOptions)
}
