import { afterEach, describe, expect, it } from 'vitest'
import {
  createProcessor,
  type EventStore,
  type Processor,
  type ProcessorOptions,
  partitionOf,
  type RecordedEvent,
} from '../../src/index.js'
import { events, failure } from './helpers.js'
import type { SuiteContext } from './suite.js'

/** Polls until `check` holds; fails with `what` after a generous deadline (loaded CI machines). */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Records what a handler saw, per stream, and whether two events of a stream ever overlapped. */
function recorder() {
  const seen: RecordedEvent[] = []
  const busy = new Set<string>()
  let overlaps = 0
  return {
    seen,
    get overlaps() {
      return overlaps
    },
    handler: async (event: RecordedEvent) => {
      if (busy.has(event.streamId)) overlaps++
      busy.add(event.streamId)
      await new Promise((resolve) => setImmediate(resolve))
      seen.push(event)
      busy.delete(event.streamId)
    },
    revisionsOf: (streamId: string) => seen.filter((e) => e.streamId === streamId).map((e) => Number(e.revision)),
  }
}

const head = async (store: EventStore) => {
  let last = 0n
  for await (const e of store.readAll()) last = e.position
  return last
}

export function processorSuite({ store }: SuiteContext) {
  describe('processors', () => {
    const running: Processor[] = []
    const start = async (options: Omit<ProcessorOptions, 'store'> & { store?: EventStore }) => {
      const p = createProcessor({ leaseMs: 1_000, retry: { initialDelayMs: 1, maxDelayMs: 5 }, store: store(), ...options })
      running.push(p)
      await p.start()
      return p
    }
    afterEach(async () => {
      await Promise.all(running.splice(0).map((p) => p.stop().catch(() => {})))
    })

    it('handles every event once, each stream in order, and resumes from its checkpoint after a restart', async () => {
      for (let s = 0; s < 6; s++) await store().appendToStream(`order-${s}`, events(5))
      const first = recorder()
      const p = await start({ name: 'orders', handler: first.handler, batchSize: 7 })
      await p.waitFor(await head(store()))
      await p.stop()
      expect(first.seen).toHaveLength(30)
      for (let s = 0; s < 6; s++) expect(first.revisionsOf(`order-${s}`)).toEqual([0, 1, 2, 3, 4])

      for (let s = 0; s < 3; s++) await store().appendToStream(`order-${s}`, events(2))
      const second = recorder()
      const again = await start({ name: 'orders', handler: second.handler })
      await again.waitFor(await head(store()))
      expect(second.seen.map((e) => [e.streamId, Number(e.revision)])).toEqual([
        ['order-0', 5],
        ['order-0', 6],
        ['order-1', 5],
        ['order-1', 6],
        ['order-2', 5],
        ['order-2', 6],
      ])
    })

    it('starts again after a stop, and concurrent starts share one run', async () => {
      const seen: bigint[] = []
      const p = createProcessor({
        store: store(),
        name: 'restartable',
        leaseMs: 1_000,
        handler: (e) => void seen.push(e.position),
      })
      running.push(p)
      await Promise.all([p.start(), p.start()])
      const first = await store().appendToStream('r', events(1))
      await p.waitFor(first.position)
      await p.stop()
      expect(p.stats().status).toBe('stopped')
      const second = await store().appendToStream('r', events(1))
      await p.start()
      await p.waitFor(second.position)
      expect(seen).toEqual([first.position, second.position])
      expect(p.stats().status).toBe('running')
    })

    it('handles live events after catching up, and waitFor resolves once they are handled', async () => {
      const seen = recorder()
      const p = await start({ name: 'live', handler: seen.handler })
      const { position } = await store().appendToStream('s', events(3))
      await p.waitFor(position, { timeoutMs: 10_000 })
      expect(seen.revisionsOf('s')).toEqual([0, 1, 2])
      const error = await failure(p.waitFor(position + 100n, { timeoutMs: 50 }))
      expect(error.code).toBe('WAIT_TIMEOUT')
    })

    it('commits read-model writes with the checkpoint: a failed batch leaves no trace', async () => {
      await store().appendToStream('a', events(3))
      let failOnce = true
      const p = await start({
        name: 'docs',
        handler: async (event, ctx) => {
          const docs = ctx.documents<{ count: number }>('counts')
          const doc = (await docs.get(event.streamId)) ?? { count: 0 }
          await docs.upsert(event.streamId, { count: doc.count + 1 })
          // The third event fails once, after the first two were written in the same batch.
          if (event.revision === 2n && failOnce) {
            failOnce = false
            throw new Error('flaky')
          }
        },
      })
      await p.waitFor(await head(store()))
      const backend = await documentsOf(p, 'counts')
      expect(backend).toEqual([{ id: 'a', doc: { count: 3 } }])
      expect(p.stats().failures).toBe(1)
    })

    it('retries a failing event with backoff and handles it once it succeeds', async () => {
      await store().appendToStream('r', events(2))
      let tries = 0
      const seen: bigint[] = []
      const p = await start({
        name: 'retry',
        handler: (event) => {
          if (event.revision === 0n && ++tries < 3) throw new Error(`try ${tries}`)
          seen.push(event.revision)
        },
      })
      await p.waitFor(await head(store()))
      expect(tries).toBe(3)
      expect(seen).toEqual([0n, 1n])
      expect(await p.parked.list()).toEqual([])
    })

    it('parks a poison event, holds back the rest of its stream only, and a retry releases them in order', async () => {
      await store().appendToStream('A', events(1))
      await store().appendToStream('B', events(1))
      await store().appendToStream('A', events(1, 'Poison'))
      await store().appendToStream('B', events(1))
      await store().appendToStream('A', events(2))
      await store().appendToStream('B', events(1))
      let fixed = false
      const seen = recorder()
      const p = await start({
        name: 'poison',
        // One event per transaction: a failed batch re-runs its other events, which this recorder (outside the transaction) would count twice.
        batchSize: 1,
        retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
        handler: async (event, ctx) => {
          if (event.type === 'Poison' && !fixed) throw Object.assign(new Error('cannot handle'), { code: 'BAD' })
          await seen.handler(event)
          expect(ctx.attempt).toBeGreaterThanOrEqual(1)
        },
      })
      await p.waitFor(await head(store()))
      expect(seen.revisionsOf('B')).toEqual([0, 1, 2])
      expect(seen.revisionsOf('A')).toEqual([0])
      const [parked, ...others] = await p.parked.list()
      expect(others).toEqual([])
      expect(parked).toMatchObject({ streamId: 'A', attempts: 3, held: 2, error: { message: 'cannot handle', code: 'BAD' } })
      expect(p.stats().parked).toBe(1)

      // Still held while parked: a new event of A waits too, B keeps flowing.
      await store().appendToStream('A', events(1))
      const { position } = await store().appendToStream('B', events(1))
      await p.waitFor(position)
      expect(seen.revisionsOf('A')).toEqual([0])
      expect((await p.parked.list())[0]?.held).toBe(3)

      const stillBroken = await failure(p.parked.retry(parked?.id as string))
      expect(stillBroken.code).toBe('PARKED_EVENT_FAILED')
      expect((await p.parked.list())[0]?.attempts).toBe(4)

      fixed = true
      expect(await p.parked.retry(parked?.id as string)).toEqual({ handled: 4 })
      expect(seen.revisionsOf('A')).toEqual([0, 1, 2, 3, 4])
      expect(await p.parked.list()).toEqual([])
      // Released: the stream flows again through the processor itself.
      const next = await store().appendToStream('A', events(1))
      await p.waitFor(next.position)
      expect(seen.revisionsOf('A')).toEqual([0, 1, 2, 3, 4, 5])
      expect(seen.overlaps).toBe(0)
    })

    it('skip drops the parked event and releases the held ones', async () => {
      await store().appendToStream('A', [...events(1, 'Poison'), ...events(2)])
      const seen = recorder()
      const p = await start({
        name: 'skip',
        retry: { maxAttempts: 1 },
        handler: async (event) => {
          if (event.type === 'Poison') throw new Error('never works')
          await seen.handler(event)
        },
      })
      await until('the event is parked', async () => (await p.parked.list()).length === 1)
      const [parked] = await p.parked.list()
      expect(parked?.attempts).toBe(1)
      expect(await p.parked.skip(parked?.id as string)).toEqual({ handled: 2 })
      expect(seen.revisionsOf('A')).toEqual([1, 2])
      const missing = await failure(p.parked.retry(parked?.id as string))
      expect(missing.code).toBe('PARKED_EVENT_NOT_FOUND')
    })

    it("onFailure 'stop' halts with PROCESSOR_FAILED and leaves the event for the next start", async () => {
      await store().appendToStream('s', [...events(1), ...events(1, 'Poison')])
      const seen = recorder()
      const p = await start({
        name: 'strict',
        batchSize: 1,
        onFailure: 'stop',
        retry: { maxAttempts: 2, initialDelayMs: 1 },
        handler: async (event) => {
          if (event.type === 'Poison') throw new Error('no')
          await seen.handler(event)
        },
      })
      const error = await failure(p.done)
      expect(error.code).toBe('PROCESSOR_FAILED')
      expect(p.stats().status).toBe('failed')
      expect(seen.revisionsOf('s')).toEqual([0])
      expect(await p.parked.list()).toEqual([])

      const retried: string[] = []
      const again = await start({ name: 'strict', handler: (event) => void retried.push(event.type) })
      await again.waitFor(await head(store()))
      expect(retried).toEqual(['Poison'])
    })

    it('shares partitions between instances, keeps each stream in order, and a survivor takes over', async () => {
      const shared = recorder()
      const options = { name: 'shared', partitions: 4, handler: shared.handler }
      const one = await start(options)
      const two = await start(options)
      await until('both hold partitions', () => one.stats().partitions.length === 2 && two.stats().partitions.length === 2)
      for (let round = 0; round < 5; round++) {
        for (let s = 0; s < 8; s++) await store().appendToStream(`k-${s}`, events(1))
      }
      await one.waitFor(await head(store()))
      await two.stop()
      await until('one holds all', () => one.stats().partitions.length === 4)
      for (let s = 0; s < 8; s++) await store().appendToStream(`k-${s}`, events(1))
      await one.waitFor(await head(store()))
      for (let s = 0; s < 8; s++) expect(shared.revisionsOf(`k-${s}`)).toEqual([0, 1, 2, 3, 4, 5])
      expect(shared.overlaps).toBe(0)
      expect(new Set(one.stats().partitions.map((p) => p.partition))).toEqual(new Set([0, 1, 2, 3]))
      expect(partitionOf('k-0', 4)).toBe(partitionOf('k-0', 4))
    })

    it('handleBatch gets many events per call and falls back to one by one when a batch fails', async () => {
      await store().appendToStream('b', events(10))
      const calls: number[] = []
      let failed = false
      const p = await start({
        name: 'batched',
        batchSize: 100,
        handleBatch: (batch) => {
          calls.push(batch.length)
          if (!failed && batch.length > 1) {
            failed = true
            throw new Error('whole batch failed')
          }
        },
      })
      await p.waitFor(await head(store()))
      expect(calls[0]).toBe(10)
      expect(calls.slice(1)).toEqual(Array(10).fill(1))
    })

    it('filters by event type, and waitFor passes events it filtered out', async () => {
      await store().appendToStream('f', [...events(2, 'Kept'), ...events(2, 'Ignored')])
      const seen: string[] = []
      const p = await start({ name: 'filtered', filter: { eventTypes: ['Kept'] }, handler: (e) => void seen.push(e.type) })
      await p.waitFor(await head(store()))
      expect(seen).toEqual(['Kept', 'Kept'])
    })

    it('starts from the end, a position or a time when it has no checkpoint yet', async () => {
      const early = await store().appendToStream('t', events(2))
      await new Promise((resolve) => setTimeout(resolve, 20))
      const cut = new Date()
      await new Promise((resolve) => setTimeout(resolve, 20))
      await store().appendToStream('t', events(2, 'Late'))
      const seenFrom = async (name: string, startFrom: ProcessorOptions['startFrom']) => {
        const seen: bigint[] = []
        const p = await start({ name, startFrom, handler: (e) => void seen.push(e.revision) })
        await p.waitFor(await head(store()))
        await p.stop()
        return seen
      }
      expect(await seenFrom('from-end', 'end')).toEqual([])
      expect(await seenFrom('from-position', { position: early.position - 1n })).toEqual([1n, 2n, 3n])
      expect(await seenFrom('from-time', { time: cut })).toEqual([2n, 3n])
    })

    it('reset replays from the start, and is refused while another instance runs', async () => {
      await store().appendToStream('x', events(3))
      const seen: bigint[] = []
      const options = { name: 'replay', handler: (e: RecordedEvent) => void seen.push(e.revision) }
      const p = await start(options)
      await p.waitFor(await head(store()))
      const other = createProcessor({ store: store(), ...options })
      expect((await failure(other.reset('start'))).code).toBe('PROCESSOR_RUNNING')
      await p.stop()
      await other.reset('start')
      const again = await start(options)
      await again.waitFor(await head(store()))
      expect(seen).toEqual([0n, 1n, 2n, 0n, 1n, 2n])
    })

    it('reports stats: handled events, failures, processing times and lag', async () => {
      await store().appendToStream('m', events(4))
      let failures = 0
      const p = await start({
        name: 'metrics',
        handler: () => {
          if (failures++ < 1) throw new Error('once')
        },
      })
      await p.waitFor(await head(store()))
      const stats = p.stats()
      expect(stats).toMatchObject({ name: 'metrics', status: 'running', handled: 4, failures: 1, parked: 0 })
      expect(stats.partitions).toHaveLength(8)
      expect(stats.lagEvents).toBe(0n)
      expect(stats.processingMs.count).toBeGreaterThan(0)
      await p.stop()
      expect(p.stats().status).toBe('stopped')
    })

    it('rejects bad options with clear codes', async () => {
      const handler = () => {}
      expect((await failure(() => createProcessor({ store: store(), name: '', handler }))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(() => createProcessor({ store: store(), name: 'n' }))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(() => createProcessor({ store: store(), name: 'n', handler, partitions: 0 }))).code).toBe(
        'INVALID_ARGUMENT',
      )
      expect(
        (await failure(() => createProcessor({ store: store(), name: 'n', handler, startFrom: 'later' as never }).start())).code,
      ).toBe('INVALID_ARGUMENT')
      await start({ name: 'fixed', handler, partitions: 4 })
      const other = createProcessor({ store: store(), name: 'fixed', handler, partitions: 5 })
      expect((await failure(other.start())).code).toBe('PROCESSOR_CONFIG_MISMATCH')
    })
  })
}

/** Every document of a collection, read outside any processor transaction. */
async function documentsOf(p: Processor, collection: string) {
  return p.documents(collection).all()
}
