export type { GenerationInfo, Projection, ProjectionContext } from '../core/projection-types.js'

import { EventfoldError } from '../core/errors.js'
import { checkProjection } from '../core/inline-projections.js'
import { type DocumentStore, type ProcessingBackend, processingOf } from '../core/internal.js'
import { type Projection, projectionNamespace } from '../core/projection-types.js'
import type { EventStore } from '../core/types.js'
import { createProcessor } from '../processing/processor.js'
import type { Processor, ProcessorOptions, ProcessorStart } from '../processing/types.js'
import { Generations } from './generations.js'
import { type RebuildOptions, type RebuildResult, rebuild } from './rebuild.js'

/** Types a projection (an identity function for inference). */
export function defineProjection<Tx = unknown>(projection: Projection<Tx>): Projection<Tx> {
  return projection
}

export interface AsyncProjectionOptions<Tx = unknown>
  extends Pick<ProcessorOptions, 'partitions' | 'batchSize' | 'retry' | 'onFailure' | 'leaseMs' | 'logger'> {
  store: EventStore
  projection: Projection<Tx>
  /** Where a projection with no checkpoint yet begins. Default `'start'`. */
  startFrom?: ProcessorStart
}

/** A projection kept up to date by a processor: start it in the processes that should do the work. */
export interface AsyncProjection extends Processor {
  /**
   * Builds the next generation of the read model from the whole log beside the live one, switches
   * readers and writers over to it atomically once it has caught up, then drops the old one.
   */
  rebuild(options?: RebuildOptions): Promise<RebuildResult>
  /** The generation readers see now. */
  generation(): Promise<number>
}

// How often an instance looks whether a rebuild elsewhere switched generations.
const GENERATION_CHECK_MS = 1_000

/**
 * One processor per generation, swapped when a rebuild switches. Each batch checks the live
 * generation inside its own transaction, so a retired generation never writes after the switch.
 */
class AsyncProjectionImpl implements AsyncProjection {
  readonly name: string
  readonly #options: AsyncProjectionOptions
  readonly #backend: ProcessingBackend
  readonly #generations: Generations
  #generation = 0
  #current: Processor | undefined
  #started = false
  #timer: NodeJS.Timeout | undefined

  constructor(options: AsyncProjectionOptions) {
    checkProjection(options.projection)
    this.#options = options
    this.name = projectionNamespace(options.projection.name)
    const backend = processingOf(options.store)
    if (backend === undefined) throw new EventfoldError('PROCESSING_UNSUPPORTED', 'This event store keeps no read models')
    this.#backend = backend
    this.#generations = new Generations(backend, options.projection.name)
  }

  get done(): Promise<void> {
    return this.#processor().done
  }

  get parked() {
    return this.#processor().parked
  }

  generation(): Promise<number> {
    return this.#generations.active()
  }

  /** The processor that builds `generation`; handles nothing once another generation is live. */
  processorFor(generation: number, overrides: Partial<ProcessorOptions> = {}): Processor {
    const { store, projection, ...settings } = this.#options
    return createProcessor({
      ...settings,
      ...overrides,
      store,
      name: projectionNamespace(projection.name, generation),
      filter: projection.filter,
      handleBatch: async (events, ctx) => {
        const live = await this.#generations.activeIn(ctx)
        if (live > generation) return
        await projection.handle(events, { tx: ctx.tx, documents: ctx.documents, generation })
      },
    })
  }

  async setup(generation: number): Promise<void> {
    const setup = this.#options.projection.setup
    if (setup !== undefined) await this.#backend.transaction(async (tx) => setup(tx.handle as never, { generation }))
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    await this.#follow(await this.#generations.active())
    this.#timer = setInterval(() => void this.#checkGeneration(), GENERATION_CHECK_MS)
  }

  async stop(): Promise<void> {
    this.#started = false
    clearInterval(this.#timer)
    await this.#current?.stop()
  }

  /** Runs `generation` here from now on (after a rebuild, with the processor that built it). */
  async adopt(generation: number, processor: Processor | undefined): Promise<void> {
    if (generation <= this.#generation) return
    const previous = this.#current
    this.#generation = generation
    this.#current = processor ?? this.processorFor(generation)
    if (this.#started && processor === undefined) await this.#current.start()
    // A rebuild run from an instance that is not running hands the work back to the running ones.
    if (!this.#started && processor !== undefined) await processor.stop()
    await previous?.stop()
  }

  async #follow(generation: number): Promise<void> {
    await this.setup(generation)
    await this.adopt(generation, undefined)
  }

  async #checkGeneration(): Promise<void> {
    try {
      const live = await this.#generations.active()
      if (this.#started && live > this.#generation) await this.#follow(live)
    } catch (error) {
      this.#options.logger?.warn?.('eventfold: projection generation check failed', { projection: this.name, error })
    }
  }

  /** The live processor, or one for reading checkpoints when this instance never started. */
  #processor(): Processor {
    if (this.#current === undefined) {
      this.#current = this.processorFor(1)
      this.#generation = 1
    }
    return this.#current
  }

  stats() {
    return this.#processor().stats()
  }

  reset(to: ProcessorStart): Promise<void> {
    return this.#processor().reset(to)
  }

  async waitFor(position: bigint, options?: { timeoutMs?: number }): Promise<void> {
    if (!this.#started) await this.adopt(await this.#generations.active(), undefined)
    return this.#processor().waitFor(position, options)
  }

  documents<Doc = unknown>(collection: string): DocumentStore<Doc> {
    return this.#generations.documents<Doc>(collection)
  }

  rebuild(options: RebuildOptions = {}): Promise<RebuildResult> {
    return rebuild(this, this.#backend, this.#generations, this.#options.projection, options)
  }
}

/**
 * Runs a projection asynchronously: a processor named `projection:<name>` feeds it batches, and
 * each batch's read-model writes commit with its checkpoint, so after any crash every event's
 * effect is applied exactly once. Any process can query the read model (`documents`) or wait for
 * a position (`waitFor`, read-your-writes) without starting it.
 *
 * @example
 * const summaries = createAsyncProjection({ store, projection: accountSummaries })
 * await summaries.start()
 * const { position } = await handleCommand(store, 'account-1', deposit, account)
 * await summaries.waitFor(position)
 * await summaries.documents('accounts').get('account-1')
 */
export function createAsyncProjection<Tx = unknown>(options: AsyncProjectionOptions<Tx>): AsyncProjection {
  return new AsyncProjectionImpl(options as AsyncProjectionOptions)
}

export type { AsyncProjectionImpl }

/** The read model of a projection, inline or async, for queries from any process. */
export function readModelOf(store: EventStore, projection: Pick<Projection, 'name'>) {
  const backend = processingOf(store)
  if (backend === undefined) throw new EventfoldError('PROCESSING_UNSUPPORTED', 'This event store keeps no read models')
  const generations = new Generations(backend, projection.name)
  return { documents: <Doc = unknown>(collection: string) => generations.documents<Doc>(collection) }
}
