import { afterEach, describe, expect, it } from 'vitest'
import {
  type AsyncProjection,
  createAsyncProjection,
  createProcessor,
  defineProjection,
  handleCommand,
  type RebuildProgress,
  type RecordedEvent,
} from '../../src/index.js'
import { account } from './deciders.js'
import { failure } from './helpers.js'
import { until } from './processor.suite.js'
import type { SuiteContext } from './suite.js'

interface Summary {
  owner: string
  balance: number
  deposits: number
  vip: boolean
  closedAt: string | null
}

const summaries = defineProjection({
  name: 'account-summaries',
  filter: { eventTypes: ['Opened', 'Deposited'] },
  async handle(events: RecordedEvent[], { documents }) {
    const accounts = documents<Summary>('accounts')
    for (const event of events) {
      const data = event.data as { owner?: string; balance?: number }
      const current = (await accounts.get(event.streamId)) ?? {
        owner: '',
        balance: 0,
        deposits: 0,
        vip: false,
        closedAt: null,
      }
      if (event.type === 'Opened') current.owner = data.owner as string
      else {
        current.balance = data.balance as number
        current.deposits++
        current.vip = current.balance >= 100
      }
      await accounts.upsert(event.streamId, current)
    }
  },
})

export function projectionSuite({ store }: SuiteContext) {
  describe('projections and documents', () => {
    const running: AsyncProjection[] = []
    afterEach(async () => {
      await Promise.all(running.splice(0).map((p) => p.stop()))
    })
    const startSummaries = async () => {
      const p = createAsyncProjection({ store: store(), projection: summaries, leaseMs: 1_000 })
      running.push(p)
      await p.start()
      return p
    }

    it('reads its own writes: waitFor(position) after a command, then the read model has it', async () => {
      const p = await startSummaries()
      await handleCommand(store(), 'acc-1', { type: 'Open', owner: 'Ada' }, account())
      const { position } = await handleCommand(store(), 'acc-1', { type: 'Deposit', amount: 150 }, account())
      await p.waitFor(position)
      expect(await p.documents<Summary>('accounts').get('acc-1')).toEqual({
        owner: 'Ada',
        balance: 150,
        deposits: 1,
        vip: true,
        closedAt: null,
      })
      // Another handle on the same projection, never started, sees the same read model and checkpoints.
      const reader = createAsyncProjection({ store: store(), projection: summaries })
      await reader.waitFor(position)
      expect((await reader.documents<Summary>('accounts').get('acc-1'))?.balance).toBe(150)
    })

    it('finds documents by top-level fields of every JSON scalar type, ordered by id', async () => {
      const p = await startSummaries()
      await handleCommand(store(), 'b', { type: 'Open', owner: 'Bob' }, account())
      await handleCommand(store(), 'a', { type: 'Open', owner: 'Ada' }, account())
      const { position } = await handleCommand(store(), 'a', { type: 'Deposit', amount: 120 }, account())
      await p.waitFor(position)
      const accounts = p.documents<Summary>('accounts')
      expect((await accounts.find({ vip: true })).map((d) => d.owner)).toEqual(['Ada'])
      expect((await accounts.find({ vip: false })).map((d) => d.owner)).toEqual(['Bob'])
      expect((await accounts.find({ owner: 'Bob', balance: 0 })).map((d) => d.owner)).toEqual(['Bob'])
      expect((await accounts.find({ balance: 120 })).map((d) => d.owner)).toEqual(['Ada'])
      expect((await accounts.find({ closedAt: null })).map((d) => d.owner)).toEqual(['Ada', 'Bob'])
      expect(await accounts.find({ balance: '120' })).toEqual([])
      expect(await accounts.find({ missing: null })).toEqual([])
      expect((await accounts.all({ limit: 1 })).map((d) => d.id)).toEqual(['a'])
      expect((await accounts.find({}, { limit: 5 })).length).toBe(2)
    })

    it('keeps documents per processor and collection, and upsert, get and delete round-trip JSON', async () => {
      const writes: string[] = []
      const p = createProcessor({
        store: store(),
        name: 'docs-roundtrip',
        handler: async (event, ctx) => {
          const docs = ctx.documents('things')
          await docs.upsert(event.streamId, { nested: { list: [1, 'two', null] }, unicode: 'åß∂ 🎉' })
          if (event.revision === 1n) await docs.delete(event.streamId)
          writes.push(event.streamId)
        },
      })
      const { position } = await store().appendToStream('kept', [{ type: 'X', data: {} }])
      await store().appendToStream('gone', [
        { type: 'X', data: {} },
        { type: 'X', data: {} },
      ])
      await p.start()
      await p.waitFor(position + 2n)
      await p.stop()
      expect(await p.documents('things').get('kept')).toEqual({ nested: { list: [1, 'two', null] }, unicode: 'åß∂ 🎉' })
      expect(await p.documents('things').get('gone')).toBeUndefined()
      expect(await p.documents('other').get('kept')).toBeUndefined()
      const other = createProcessor({ store: store(), name: 'another', handler: () => {} })
      expect(await other.documents('things').get('kept')).toBeUndefined()
    })

    it('refuses bad document input with INVALID_ARGUMENT and writes nothing', async () => {
      const docs = createProcessor({ store: store(), name: 'bad-docs', handler: () => {} }).documents('c')
      expect((await failure(docs.find({ 'a.b': 1 }))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(docs.find({ "x') OR 1=1 --": 1 }))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(docs.find({ a: { b: 1 } } as never))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(docs.upsert('', {}))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(docs.upsert('id', { n: 1n } as never))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(docs.all({ limit: 0 }))).code).toBe('INVALID_ARGUMENT')
      expect(await docs.all()).toEqual([])
    })

    it('refuses a projection without a name or handler with INVALID_PROJECTION', async () => {
      const bad = { name: '', handle: () => {} }
      expect((await failure(() => createAsyncProjection({ store: store(), projection: bad }))).code).toBe('INVALID_PROJECTION')
      const noHandle = { name: 'x' } as never
      expect((await failure(() => createAsyncProjection({ store: store(), projection: noHandle }))).code).toBe(
        'INVALID_PROJECTION',
      )
    })
  })
}

/** Totals per stream; `factor` stands for a change of logic that needs a rebuild. */
const totals = (factor: number, slow = false) =>
  defineProjection({
    name: 'totals',
    async handle(events: RecordedEvent[], { documents, generation }) {
      const docs = documents<{ total: number; generation: number }>('streams')
      for (const event of events) {
        const doc = (await docs.get(event.streamId)) ?? { total: 0, generation }
        await docs.upsert(event.streamId, { total: doc.total + factor, generation })
      }
      if (slow) await new Promise((resolve) => setTimeout(resolve, 2))
    },
  })

export function rebuildSuite({ store }: SuiteContext) {
  describe('projection rebuild', () => {
    it('builds the next generation beside the live one, switches atomically and drops the old', async () => {
      for (let s = 0; s < 4; s++)
        await store().appendToStream(`t-${s}`, [
          { type: 'A', data: {} },
          { type: 'A', data: {} },
        ])
      const live = createAsyncProjection({ store: store(), projection: totals(1), leaseMs: 1_000 })
      const follower = createAsyncProjection({ store: store(), projection: totals(1), leaseMs: 1_000 })
      await live.start()
      await follower.start()
      try {
        await live.waitFor(8n)
        expect(await live.documents('streams').get('t-0')).toEqual({ total: 2, generation: 1 })

        const rebuilder = createAsyncProjection({ store: store(), projection: totals(10, true), batchSize: 1 })
        const progress: RebuildProgress[] = []
        const readsDuringBuild: unknown[] = []
        const result = await rebuilder.rebuild({
          progressIntervalMs: 5,
          onProgress: (report) => {
            progress.push(report)
            if (report.phase === 'building') readsDuringBuild.push(live.documents('streams').get('t-1'))
          },
        })
        const seen = progress.map((p) => p.phase)
        for (const report of progress) {
          expect(report.generation).toBe(2)
          expect(report.done).toBeLessThanOrEqual(report.total)
        }
        expect(progress.at(-1)).toMatchObject({ done: 8n, total: 8n })
        expect(result).toMatchObject({ generation: 2, previous: 1 })
        expect(seen.at(-2)).toBe('switched')
        expect(seen.at(-1)).toBe('dropped')
        // No downtime: while it built, readers kept seeing the old generation, never an empty one.
        expect(readsDuringBuild.length).toBeGreaterThan(0)
        for (const read of await Promise.all(readsDuringBuild)) expect(read).toEqual({ total: 2, generation: 1 })

        expect(await rebuilder.generation()).toBe(2)
        expect(await live.documents('streams').get('t-0')).toEqual({ total: 20, generation: 2 })
        // The running instances follow the switch and keep the new generation current.
        await until('both instances run generation 2', () =>
          [live, follower].every((p) => p.stats().name === 'projection:totals#2'),
        )
        const { position } = await store().appendToStream('t-0', [{ type: 'A', data: {} }])
        await live.waitFor(position)
        const doc = await live.documents<{ total: number; generation: number }>('streams').get('t-0')
        // Applied by the running instance with its logic (factor 1), on top of the rebuilt total.
        expect(doc).toEqual({ total: 21, generation: 2 })
      } finally {
        await live.stop()
        await follower.stop()
      }
    })
  })
}
