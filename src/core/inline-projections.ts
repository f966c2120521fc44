import { EventfoldError, InvalidInputError } from './errors.js'
import type { ProcessingTx } from './processing-port.js'
import { type Projection, projectionNamespace } from './projection-types.js'
import type { EventFilter, RecordedEvent } from './types.js'

const matches = (filter: EventFilter | undefined, event: RecordedEvent) =>
  (filter?.eventTypes === undefined || filter.eventTypes.includes(event.type)) &&
  (filter?.streamPrefix === undefined || event.streamId.startsWith(filter.streamPrefix))

/**
 * Runs inline projections on the events one append just wrote, inside its transaction. A failure
 * rolls the append back: the read model and the log never disagree.
 */
export async function runInlineProjections(
  projections: readonly Projection[],
  events: RecordedEvent[],
  tx: ProcessingTx,
): Promise<void> {
  for (const projection of projections) {
    const matching = events.filter((event) => matches(projection.filter, event))
    if (matching.length === 0) continue
    try {
      const namespace = projectionNamespace(projection.name)
      await projection.handle(matching, {
        tx: tx.handle,
        documents: (collection) => tx.documents(namespace, collection) as never,
        generation: 1,
      })
    } catch (error) {
      throw new EventfoldError(
        'INLINE_PROJECTION_FAILED',
        `Inline projection '${projection.name}' failed on stream '${(matching[0] as RecordedEvent).streamId}'; the append was rolled back`,
        { cause: error },
      )
    }
  }
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

/** Checks the store option: a list of projections with distinct names. */
export function checkInlineProjections(list: unknown): readonly Projection[] {
  if (list === undefined) return []
  if (!Array.isArray(list)) {
    throw new InvalidInputError('INVALID_PROJECTION', 'inlineProjections must be an array', 'inlineProjections')
  }
  const names = new Set<string>()
  for (const projection of list) {
    checkProjection(projection)
    if (names.has(projection.name)) {
      throw new InvalidInputError(
        'INVALID_PROJECTION',
        `two inline projections are named '${projection.name}'`,
        'inlineProjections',
      )
    }
    names.add(projection.name)
  }
  return list
}
