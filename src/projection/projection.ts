export type { Projection, ProjectionContext } from '../core/projection-types.js'

import { EventfoldError } from '../core/errors.js'
import { checkProjection } from '../core/inline-projections.js'
import { type DocumentStore, processingOf } from '../core/internal.js'
import { type Projection, projectionNamespace } from '../core/projection-types.js'
import type { EventStore } from '../core/types.js'
import { createProcessor } from '../processing/processor.js'
import type { Processor, ProcessorOptions, ProcessorStart } from '../processing/types.js'

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
    name: projectionNamespace(projection.name),
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

/** The read model of a projection, inline or async, for queries from any process. */
export function readModelOf(store: EventStore, projection: Pick<Projection, 'name'>) {
  const backend = processingOf(store)
  if (backend === undefined) throw new EventfoldError('PROCESSING_UNSUPPORTED', 'This event store keeps no read models')
  const namespace = projectionNamespace(projection.name)
  return {
    documents: <Doc = unknown>(collection: string) => backend.documents(namespace, collection) as DocumentStore<Doc>,
  }
}
