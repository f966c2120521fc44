import { describe, expect, it } from 'vitest'
import { collect, events, sleep } from './helpers.js'
import type { SuiteContext } from './suite.js'

const numbers = (list: { data: unknown }[]) => list.map((e) => (e.data as { n: number }).n)

export function readSuite({ store, open }: SuiteContext) {
  describe('readStream', () => {
    it('reads forwards and backwards, from a revision, up to a count', async () => {
      await store().appendToStream('r', events(5))
      const s = store()
      expect(numbers(await collect(s.readStream('r')))).toEqual([0, 1, 2, 3, 4])
      expect(numbers(await collect(s.readStream('r', { fromRevision: 2n })))).toEqual([2, 3, 4])
      expect(numbers(await collect(s.readStream('r', { maxCount: 2 })))).toEqual([0, 1])
      expect(numbers(await collect(s.readStream('r', { direction: 'backwards' })))).toEqual([4, 3, 2, 1, 0])
      expect(numbers(await collect(s.readStream('r', { direction: 'backwards', fromRevision: 2n, maxCount: 2 })))).toEqual([2, 1])
      expect(await collect(s.readStream('r', { fromRevision: 9n }))).toEqual([])
      expect(await collect(s.readStream('r', { maxCount: 0 }))).toEqual([])
    })

    it('finds nothing in a stream that was never written', async () => {
      expect(await collect(store().readStream('nobody'))).toEqual([])
    })

    it('pages through long streams in both directions', async () => {
      const paged = await open({ pageSize: 7 })
      await paged.appendToStream('long', events(30))
      expect(numbers(await collect(paged.readStream('long')))).toEqual(Array.from({ length: 30 }, (_, i) => i))
      expect(numbers(await collect(paged.readStream('long', { direction: 'backwards' })))).toEqual(
        Array.from({ length: 30 }, (_, i) => 29 - i),
      )
      expect(numbers(await collect(paged.readStream('long', { fromRevision: 5n, maxCount: 10 })))).toHaveLength(10)
    })
  })

  describe('readAll', () => {
    it('returns events in strictly increasing position, after a point, up to a count', async () => {
      await store().appendToStream('x', events(3))
      await store().appendToStream('y', events(3))
      const all = await collect(store().readAll())
      expect(all.map((e) => e.streamId)).toEqual(['x', 'x', 'x', 'y', 'y', 'y'])
      const third = all[2]?.position as bigint
      expect((await collect(store().readAll({ after: third }))).map((e) => e.streamId)).toEqual(['y', 'y', 'y'])
      expect(await collect(store().readAll({ after: third, maxCount: 2 }))).toEqual(all.slice(3, 5))
    })

    it('filters by event type and by stream prefix, taking the prefix literally', async () => {
      await store().appendToStream('order-1', [
        { type: 'Placed', data: 1 },
        { type: 'Paid', data: 2 },
      ])
      await store().appendToStream('order_%-2', [{ type: 'Placed', data: 3 }])
      await store().appendToStream('orderX2', [{ type: 'Placed', data: 4 }])
      await store().appendToStream('user-1', [{ type: 'Registered', data: 5 }])
      const data = async (filter: object) => (await collect(store().readAll({ filter }))).map((e) => e.data)
      expect(await data({ eventTypes: ['Placed'] })).toEqual([1, 3, 4])
      expect(await data({ eventTypes: ['Paid', 'Registered'] })).toEqual([2, 5])
      expect(await data({ eventTypes: [] })).toEqual([])
      expect(await data({ streamPrefix: 'order-' })).toEqual([1, 2])
      expect(await data({ streamPrefix: 'order_%' })).toEqual([3])
      expect(await data({ streamPrefix: 'order', eventTypes: ['Placed'] })).toEqual([1, 3, 4])
    })

    it('pages through a log longer than a page, with a sparse filter', async () => {
      const paged = await open({ pageSize: 5 })
      for (let i = 0; i < 6; i++) {
        await paged.appendToStream(`noise-${i}`, events(4, 'Noise'))
        await paged.appendToStream(`wanted-${i}`, events(1, 'Wanted', i))
      }
      expect(await collect(paged.readAll())).toHaveLength(30)
      expect(numbers(await collect(paged.readAll({ filter: { eventTypes: ['Wanted'] } })))).toEqual([0, 1, 2, 3, 4, 5])
    })
  })

  describe('aggregateStream', () => {
    const sum = { initialState: () => 0, evolve: (total: number, e: { data: unknown }) => total + (e.data as { n: number }).n }

    it('folds the whole stream, or up to a revision', async () => {
      await store().appendToStream('acc', events(5, 'Deposited', 1))
      expect(await store().aggregateStream('acc', sum)).toEqual({ state: 15, revision: 4n })
      expect(await store().aggregateStream('acc', { ...sum, upTo: { revision: 2n } })).toEqual({ state: 6, revision: 2n })
      expect(await store().aggregateStream('none', sum)).toEqual({ state: 0, revision: undefined })
    })

    it('folds up to a point in time', async () => {
      await store().appendToStream('acc', events(2, 'Deposited', 1))
      const [, second] = await collect(store().readStream('acc'))
      await sleep(20)
      await store().appendToStream('acc', events(1, 'Deposited', 100))
      const at = second?.recordedAt as Date
      expect(await store().aggregateStream('acc', { ...sum, upTo: { time: at } })).toEqual({ state: 3, revision: 1n })
      expect(await store().aggregateStream('acc', { ...sum, upTo: { time: new Date(at.getTime() - 60_000) } })).toEqual({
        state: 0,
        revision: undefined,
      })
      expect((await store().aggregateStream('acc', { ...sum, upTo: { time: new Date() } })).state).toBe(103)
    })
  })
}
