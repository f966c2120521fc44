import { InvalidInputError } from '../core/errors.js'
import { type DocumentStore, processingOf } from '../core/internal.js'
import type { EventFilter, EventStore, RecordedEvent } from '../core/types.js'
import { createProcessor } from '../processing/processor.js'
import type { Processor, ProcessorOptions, ProcessorStart } from '../processing/types.js'

export interface ProjectionContext<Tx = unknown> {
  /** The transaction the projection's checkpoint commits in (see `ProcessorContext.tx`). */
  readonly tx: Tx
  /** A document collection of this projection's read model, written in the same transaction. */
  documents<Doc = unknown>(collection: string): DocumentStore<Doc>
}

/**
 * A read model built from the log. `handle` gets events in log order, many at a time, and writes
 * through `ctx.tx` (ordinary tables) or `ctx.documents` (the document helper).
 */
export interface Projection<Tx = unknown> {
  name: string
  /** Only these events reach `handle`. */
  filter?: EventFilter
  /** Creates what the read model needs (idempotent), in a transaction before the first batch. */
  setup?: (tx: Tx) => Promise<void> | void
  handle: (events: RecordedEvent[], ctx: ProjectionContext<Tx>) => Promise<void> | void
}

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
export interface AsyncProjection extends Processor {}

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
  const { store, projection, ...settings } = options
  checkProjection(projection)
  const processor = createProcessor<Tx>({
    ...settings,
    store,
    name: `projection:${projection.name}`,
    filter: projection.filter,
    handleBatch: (events, ctx) => projection.handle(events, { tx: ctx.tx, documents: ctx.documents }),
  })
  const start = processor.start.bind(processor)
  return Object.assign(processor, {
    async start() {
      const setup = projection.setup
      const backend = processingOf(store)
      if (setup !== undefined && backend !== undefined) await backend.transaction(async (tx) => setup(tx.handle as Tx))
      await start()
    },
  })
}

export function checkProjection(projection: unknown): asserts projection is Projection {
  const p = projection as Partial<Projection> | undefined
  if (typeof p !== 'object' || p === null || typeof p.name !== 'string' || p.name === '') {
    throw new InvalidInputError('INVALID_PROJECTION', 'a projection needs a non-empty name', 'projection.name')
  }
  if (typeof p.handle !== 'function') {
    throw new InvalidInputError('INVALID_PROJECTION', `projection '${p.name}' needs a handle function`, 'projection.handle')
  }
}
