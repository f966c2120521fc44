import type { DocumentStore } from '../core/processing-port.js'
import type { EventData, EventStore } from '../core/types.js'
import { createInMemoryEventStore } from '../memory/event-store.js'
import { createAsyncProjection, type Projection } from '../projection/projection.js'

/** An event of the given history, with the stream it belongs to. */
export type GivenEvent = EventData & { streamId: string }

export interface ProjectionThen {
  /**
   * Runs `check` on the read model (not named `then`: an object with a `then` method is a thenable) once the projection has handled every given event. `check`
   * asserts with whatever the test runner offers; its failure fails the specification.
   */
  thenReadModel(
    check: (readModel: { documents<Doc = unknown>(collection: string): DocumentStore<Doc> }) => unknown,
  ): Promise<void>
}

export interface ProjectionSpec {
  given(events: readonly GivenEvent[]): ProjectionThen
}

/**
 * Given/then for projections: the given events are appended to a fresh in-memory store (or the
 * one passed), the projection runs over them as an async projection would, then `then` looks at
 * the read model.
 *
 * @example
 * await ProjectionSpecification.for(accountSummaries)
 *   .given([{ streamId: 'account-1', type: 'Opened', data: { owner: 'Ada' } }])
 *   .thenReadModel(async (read) => expect(await read.documents('accounts').get('account-1')).toEqual({ owner: 'Ada', balance: 0 }))
 */
export const ProjectionSpecification = {
  for(projection: Projection, store?: () => EventStore): ProjectionSpec {
    return {
      given: (events) => ({
        async thenReadModel(check) {
          const target = store?.() ?? createInMemoryEventStore()
          let position = 0n
          for (const { streamId, ...event } of events) {
            position = (await target.appendToStream(streamId, [event])).position
          }
          const runner = createAsyncProjection({ store: target, projection, partitions: 1, onFailure: 'stop' })
          await runner.start()
          try {
            await Promise.race([runner.waitFor(position, { timeoutMs: 30_000 }), runner.done])
            await check({ documents: (collection) => runner.documents(collection) })
          } finally {
            await runner.stop()
          }
        },
      }),
    }
  },
}
