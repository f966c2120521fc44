import { describe, expect, it, vi } from 'vitest'
import type { RecordedEvent } from '../../src/index.js'
import { collect, events, expectWellOrdered, failure, sleep } from './helpers.js'
import type { SuiteContext } from './suite.js'

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 5_000, interval: 10 })

export function subscriptionSuite({ store, open }: SuiteContext) {
  describe('subscribeToAll', () => {
    it('catches up from the start, then delivers live events in order', async () => {
      await store().appendToStream('a', events(3))
      const seen: RecordedEvent[] = []
      const sub = store().subscribeToAll({ from: 'start', handler: (e) => void seen.push(e) })
      await sub.caughtUp
      expect(seen).toHaveLength(3)
      await store().appendToStream('b', events(2))
      await store().appendToStream('a', events(1))
      await waitFor(() => expect(seen).toHaveLength(6))
      expectWellOrdered(seen)
      expect(seen).toEqual(await collect(store().readAll()))
      expect(sub.checkpoint).toBe(seen.at(-1)?.position)
      await sub.stop()
    })

    it('resolves caughtUp only after everything committed at start was delivered', async () => {
      const paged = await open({ pageSize: 4 })
      await paged.appendToStream('big', events(25))
      let delivered = 0
      const sub = paged.subscribeToAll({
        handler: async () => {
          await sleep(0)
          delivered++
        },
      })
      await sub.caughtUp
      expect(delivered).toBe(25)
      await sub.stop()
    })

    it('starts at the end, or after a position', async () => {
      await store().appendToStream('old', events(2))
      const fromEnd: RecordedEvent[] = []
      const fromMiddle: RecordedEvent[] = []
      const [first] = await collect(store().readAll())
      const end = store().subscribeToAll({ from: 'end', handler: (e) => void fromEnd.push(e) })
      const middle = store().subscribeToAll({
        from: { after: first?.position as bigint },
        handler: (e) => void fromMiddle.push(e),
      })
      await Promise.all([end.caughtUp, middle.caughtUp])
      expect(fromEnd).toEqual([])
      await store().appendToStream('new', events(1))
      await waitFor(() => expect(fromEnd.map((e) => e.streamId)).toEqual(['new']))
      await waitFor(() => expect(fromMiddle.map((e) => e.streamId)).toEqual(['old', 'new']))
      await Promise.all([end.stop(), middle.stop()])
    })

    it('applies the filter to catch-up and live delivery', async () => {
      await store().appendToStream('cart-1', [
        { type: 'Added', data: 1 },
        { type: 'Removed', data: 2 },
      ])
      const seen: unknown[] = []
      const sub = store().subscribeToAll({
        filter: { streamPrefix: 'cart-', eventTypes: ['Added'] },
        handler: (e) => void seen.push(e.data),
      })
      await sub.caughtUp
      await store().appendToStream('cart-2', [{ type: 'Added', data: 3 }])
      await store().appendToStream('user-1', [{ type: 'Added', data: 4 }])
      await store().appendToStream('cart-3', [{ type: 'Added', data: 5 }])
      await waitFor(() => expect(seen).toEqual([1, 3, 5]))
      await sub.stop()
    })

    it('stops on a handler error, exposing it, while other subscriptions go on', async () => {
      const healthy: bigint[] = []
      const good = store().subscribeToAll({ handler: (e) => void healthy.push(e.position) })
      const bad = store().subscribeToAll({
        handler: (e) => {
          if (e.type === 'Poison') throw new Error('boom')
        },
      })
      await store().appendToStream('p', [
        { type: 'Fine', data: 1 },
        { type: 'Poison', data: 2 },
        { type: 'Fine', data: 3 },
      ])
      const error = await failure(bad.done)
      expect(error).toMatchObject({ code: 'SUBSCRIPTION_HANDLER_FAILED' })
      expect((error.cause as Error).message).toBe('boom')
      expect(bad.error).toBe(error)
      expect(bad.checkpoint).toBe((error.position as bigint) - 1n)
      await store().appendToStream('p', events(1))
      await waitFor(() => expect(healthy).toHaveLength(4))
      await good.stop()
      await bad.stop()
    })

    it('delivers nothing after stop', async () => {
      const seen: RecordedEvent[] = []
      const sub = store().subscribeToAll({ handler: (e) => void seen.push(e) })
      await sub.caughtUp
      await sub.stop()
      await store().appendToStream('late', events(2))
      await sleep(50)
      expect(seen).toEqual([])
    })

    it('sees every event exactly once while many writers append concurrently', async () => {
      const seen: RecordedEvent[] = []
      const sub = store().subscribeToAll({ handler: (e) => void seen.push(e) })
      await sub.caughtUp
      await Promise.all(
        Array.from({ length: 8 }, async (_, writer) => {
          for (let i = 0; i < 15; i++) await store().appendToStream(`w-${writer}`, events(1 + (i % 3)))
        }),
      )
      const all = await collect(store().readAll())
      expect(all).toHaveLength(8 * (5 * 1 + 5 * 2 + 5 * 3))
      await waitFor(() => expect(seen).toHaveLength(all.length))
      expectWellOrdered(seen)
      expect(seen.map((e) => e.id)).toEqual(all.map((e) => e.id))
      await sub.stop()
    })
  })

  describe('subscribeToStream', () => {
    it('delivers one stream from the start, the end, or after a revision', async () => {
      await store().appendToStream('s', events(3))
      await store().appendToStream('other', events(2))
      const all: bigint[] = []
      const fromEnd: bigint[] = []
      const after: bigint[] = []
      const subs = [
        store().subscribeToStream('s', { from: 'start', handler: (e) => void all.push(e.revision) }),
        store().subscribeToStream('s', { from: 'end', handler: (e) => void fromEnd.push(e.revision) }),
        store().subscribeToStream('s', { from: { after: 1n }, handler: (e) => void after.push(e.revision) }),
      ]
      await Promise.all(subs.map((s) => s.caughtUp))
      expect(all).toEqual([0n, 1n, 2n])
      expect(fromEnd).toEqual([])
      await store().appendToStream('other', events(1))
      await store().appendToStream('s', events(2))
      await waitFor(() => expect(all).toEqual([0n, 1n, 2n, 3n, 4n]))
      await waitFor(() => expect(fromEnd).toEqual([3n, 4n]))
      await waitFor(() => expect(after).toEqual([2n, 3n, 4n]))
      expect(subs[0]?.checkpoint).toBe(4n)
      await Promise.all(subs.map((s) => s.stop()))
    })

    it('follows a stream that does not exist yet', async () => {
      const seen: string[] = []
      const sub = store().subscribeToStream('later', { handler: (e) => void seen.push(e.type) })
      await sub.caughtUp
      await store().appendToStream('later', [{ type: 'Born', data: null }])
      await waitFor(() => expect(seen).toEqual(['Born']))
      await sub.stop()
    })
  })

  it('close stops every subscription', async () => {
    const closing = await open({})
    const sub = closing.subscribeToAll({ handler() {} })
    await sub.caughtUp
    await closing.close()
    await expect(sub.done).resolves.toBeUndefined()
  })
}
