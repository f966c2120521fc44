import { describe, expect, it } from 'vitest'
import { defineProjection, readModelOf, uuidv7 } from '../../src/index.js'
import { collect, failure } from './helpers.js'
import type { SuiteContext } from './suite.js'

interface Counter {
  events: number
  last: number
}

/** Counts events per stream; an event typed 'Refused' makes it throw. */
const counters = defineProjection({
  name: 'counters',
  filter: { streamPrefix: 'c-' },
  async handle(events, { documents }) {
    const docs = documents<Counter>('streams')
    for (const event of events) {
      if (event.type === 'Refused') throw new Error('this projection refuses the event')
      const doc = (await docs.get(event.streamId)) ?? { events: 0, last: -1 }
      await docs.upsert(event.streamId, { events: doc.events + 1, last: Number(event.revision) })
    }
  },
})

export function inlineProjectionSuite({ open }: SuiteContext) {
  describe('inline projections', () => {
    it('updates the read model in the append transaction: visible as soon as the append returns', async () => {
      const store = await open({ inlineProjections: [counters] })
      await store.appendToStream('c-1', [
        { type: 'A', data: {} },
        { type: 'B', data: {} },
      ])
      const docs = readModelOf(store, counters).documents<Counter>('streams')
      expect(await docs.get('c-1')).toEqual({ events: 2, last: 1 })
      await store.appendToStream('other', [{ type: 'A', data: {} }])
      expect(await docs.get('other')).toBeUndefined()
    })

    it('fails the append with INLINE_PROJECTION_FAILED and writes neither events nor documents', async () => {
      const store = await open({ inlineProjections: [counters] })
      await store.appendToStream('c-2', [{ type: 'A', data: {} }])
      const [bad, good] = await Promise.allSettled([
        store.appendToStream('c-2', [
          { type: 'A', data: {} },
          { type: 'Refused', data: {} },
        ]),
        store.appendToStream('c-3', [{ type: 'A', data: {} }]),
      ])
      expect(bad?.status).toBe('rejected')
      expect((bad as PromiseRejectedResult).reason).toMatchObject({ code: 'INLINE_PROJECTION_FAILED' })
      expect(good?.status).toBe('fulfilled')
      expect(await collect(store.readStream('c-2'))).toHaveLength(1)
      const docs = readModelOf(store, counters).documents<Counter>('streams')
      expect(await docs.get('c-2')).toEqual({ events: 1, last: 0 })
      expect(await docs.get('c-3')).toEqual({ events: 1, last: 0 })
      // The stream is still writable at the revision the failed append would have taken.
      await store.appendToStream('c-2', [{ type: 'A', data: {} }], { expectedRevision: 0n })
      expect(await docs.get('c-2')).toEqual({ events: 2, last: 1 })
    })

    it('projects an idempotent retry once', async () => {
      const store = await open({ inlineProjections: [counters] })
      const events = [{ id: uuidv7(), type: 'A', data: {} }]
      await store.appendToStream('c-4', events)
      await store.appendToStream('c-4', events)
      expect(await readModelOf(store, counters).documents('streams').get('c-4')).toEqual({ events: 1, last: 0 })
    })

    it('runs setup in migrate and refuses two projections with one name', async () => {
      let setups = 0
      const withSetup = defineProjection({ name: 'with-setup', setup: () => void setups++, handle: () => {} })
      await open({ inlineProjections: [withSetup] })
      expect(setups).toBe(1)
      expect((await failure(open({ inlineProjections: [counters, counters] }))).code).toBe('INVALID_PROJECTION')
    })
  })
}
