import { afterEach, describe, expect, it, vi } from 'vitest'
import type { EventStore, RecordedEvent } from '../../src/index.js'
import { createProcessor, createSchemaRegistry, defineEvent } from '../../src/index.js'
import { type AdapterName, adapters, type StoreUnderTest } from '../conformance/adapters.js'
import { collect } from '../conformance/helpers.js'
import { deployable, FundsDeposited, toCents, v1, v2, v3 } from './fixtures.js'

// Every adapter runs every test here: adding one is a compile error until it is listed.
const every: Record<AdapterName, true> = { memory: true, sqlite: true, postgres: true }

const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 5_000, interval: 10 })
const shape = (events: RecordedEvent[]) =>
  events.map((e) => ({ type: e.type, data: e.data, revision: e.revision, version: e.metadata.schemaVersion }))

describe.each(Object.keys(every) as AdapterName[])('upcasting on read: %s', (adapter) => {
  let opened: StoreUnderTest | undefined
  afterEach(async () => {
    await opened?.cleanup()
    opened = undefined
  })

  /** A store whose code is deployed three times, with a page size small enough to cut through splits and filters. */
  async function history() {
    const port = deployable()
    opened = await adapters[adapter]({ registry: port, pageSize: 2 })
    const store = opened.store
    port.deploy(v1)
    await store.appendToStream('acc-1', [
      { type: 'OpenedWithDeposit', data: { owner: 'Ada', amount: 10 } },
      { type: 'Deposited', data: { amount: 2.5 } },
    ])
    await store.appendToStream(
      'notes',
      Array.from({ length: 5 }, (_, i) => ({ type: 'Noted', data: { text: `n${i}` } })),
    )
    port.deploy(v2)
    await store.appendToStream('acc-1', [{ type: 'Deposited', data: { amount: 1, currency: 'USD' } }])
    port.deploy(v3)
    await store.appendToStream('acc-1', [FundsDeposited.create({ cents: 700, currency: 'EUR' })])
    return { store, port }
  }

  const current = [
    { type: 'Opened', data: { owner: 'Ada' }, revision: 0n, version: 1 },
    { type: 'FundsDeposited', data: { cents: 1000, currency: 'EUR' }, revision: 0n, version: 3 },
    { type: 'FundsDeposited', data: { cents: 250, currency: 'EUR' }, revision: 1n, version: 3 },
    { type: 'FundsDeposited', data: { cents: 100, currency: 'USD' }, revision: 2n, version: 3 },
    { type: 'FundsDeposited', data: { cents: 700, currency: 'EUR' }, revision: 3n, version: 3 },
  ]

  it('reads every stored version as the current one: 1→2→3, a rename and a split', async () => {
    const { store } = await history()
    expect(shape(await collect(store.readStream('acc-1')))).toEqual(current)
    expect(shape(await collect(store.readStream('acc-1', { direction: 'backwards' })))).toEqual([...current].reverse())
  })

  it('never rewrites what is stored', async () => {
    const { store, port } = await history()
    port.deploy(undefined)
    expect(shape(await collect(store.readStream('acc-1')))).toEqual([
      { type: 'OpenedWithDeposit', data: { owner: 'Ada', amount: 10 }, revision: 0n, version: 1 },
      { type: 'Deposited', data: { amount: 2.5 }, revision: 1n, version: 1 },
      { type: 'Deposited', data: { amount: 1, currency: 'USD' }, revision: 2n, version: 2 },
      { type: 'FundsDeposited', data: { cents: 700, currency: 'EUR' }, revision: 3n, version: 3 },
    ])
  })

  it('gives the events of a split the stored position and revision, and stable ids of their own', async () => {
    const { store, port } = await history()
    const [opened, deposited] = await collect(store.readStream('acc-1', { maxCount: 2 }))
    port.deploy(undefined)
    const [stored] = await collect(store.readAll({ maxCount: 1 }))
    port.deploy(v3)
    expect(opened?.position).toBe(stored?.position)
    expect(deposited?.position).toBe(stored?.position)
    expect(deposited?.recordedAt).toEqual(stored?.recordedAt)
    expect(new Set([opened?.id, deposited?.id, stored?.id]).size).toBe(3)
    const again = await collect(store.readStream('acc-1', { maxCount: 2 }))
    expect(again.map((e) => e.id)).toEqual([opened?.id, deposited?.id])
    expect(opened?.metadata.correlationId).toBe(stored?.metadata.correlationId)
  })

  it('counts maxCount in events read, also inside a split', async () => {
    const { store } = await history()
    expect(shape(await collect(store.readStream('acc-1', { maxCount: 1 })))).toEqual(current.slice(0, 1))
    expect(shape(await collect(store.readStream('acc-1', { maxCount: 3 })))).toEqual(current.slice(0, 3))
    expect(await collect(store.readAll({ maxCount: 4 }))).toHaveLength(4)
  })

  it('folds current events', async () => {
    const { store } = await history()
    const balance = {
      initialState: () => 0,
      evolve: (cents: number, e: RecordedEvent) => (FundsDeposited.is(e) ? cents + e.data.cents : cents),
    }
    expect(await store.aggregateStream('acc-1', balance)).toEqual({ state: 2050, revision: 3n })
    // Both events of the split stored at revision 0 are folded.
    expect(await store.aggregateStream('acc-1', { ...balance, upTo: { revision: 0n } })).toEqual({ state: 1000, revision: 0n })
  })

  it('finds events stored under old names when filtering by the current type', async () => {
    const { store } = await history()
    const deposits = await collect(store.readAll({ filter: { eventTypes: ['FundsDeposited'] } }))
    expect(shape(deposits)).toEqual(current.filter((e) => e.type === 'FundsDeposited'))
    const opened = await collect(store.readAll({ filter: { eventTypes: ['Opened'] } }))
    expect(shape(opened)).toEqual(current.slice(0, 1))
    // An old name reads as nothing: its events are now of another type.
    expect(await collect(store.readAll({ filter: { eventTypes: ['Deposited'] } }))).toEqual([])
  })

  it('pages readAll without skipping or repeating, whatever the page size', async () => {
    const { store } = await history()
    const everything = await collect(store.readAll())
    expect(everything.map((e) => e.type)).toEqual([
      'Opened',
      'FundsDeposited',
      'FundsDeposited',
      ...Array(5).fill('Noted'),
      'FundsDeposited',
      'FundsDeposited',
    ])
    for (let after = 0n; after <= 9n; after++) {
      expect(await collect(store.readAll({ after }))).toEqual(everything.filter((e) => e.position > after))
    }
  })

  it('delivers current events to subscriptions, advancing the checkpoint past whole stored events', async () => {
    const { store } = await history()
    const all: RecordedEvent[] = []
    const deposits: RecordedEvent[] = []
    const stream: RecordedEvent[] = []
    const subs = [
      store.subscribeToAll({ handler: (e) => void all.push(e) }),
      // Page size 2: whole pages (the notes) hold nothing this filter wants; it must move on past them.
      store.subscribeToAll({ filter: { eventTypes: ['FundsDeposited'] }, handler: (e) => void deposits.push(e) }),
      store.subscribeToStream('acc-1', { handler: (e) => void stream.push(e) }),
    ]
    await Promise.all(subs.map((s) => s.caughtUp))
    expect(all).toEqual(await collect(store.readAll()))
    expect(shape(deposits)).toEqual(current.filter((e) => e.type === 'FundsDeposited'))
    expect(shape(stream)).toEqual(current)
    expect(subs[0]?.checkpoint).toBe(all.at(-1)?.position)
    expect(subs[1]?.checkpoint).toBe(deposits.at(-1)?.position)
    expect(subs[2]?.checkpoint).toBe(3n)

    await store.appendToStream('acc-2', [FundsDeposited.create({ cents: 5, currency: 'USD' })])
    await waitFor(() => expect(deposits).toHaveLength(5))
    expect(deposits.at(-1)?.data).toEqual({ cents: 5, currency: 'USD' })
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length)
    await Promise.all(subs.map((s) => s.stop()))
  })

  it('gives a processor every upcast event once, whatever batch size cuts through a split', async () => {
    const { store } = await history()
    let head = 0n
    for await (const e of store.readAll()) head = e.position
    for (const batchSize of [1, 2, 3]) {
      const seen: RecordedEvent[] = []
      const p = createProcessor({ store, name: `split-${batchSize}`, batchSize, handler: (e) => void seen.push(e) })
      await p.start()
      await p.waitFor(head)
      await p.stop()
      const accounts = seen.filter((e) => e.streamId === 'acc-1')
      expect(shape(accounts), `batch size ${batchSize}`).toEqual(current)
      expect(seen.filter((e) => e.streamId === 'notes')).toHaveLength(5)
    }
  })

  it('resumes a subscription from its checkpoint without repeating or skipping a split', async () => {
    const { store } = await history()
    const seen: RecordedEvent[] = []
    const first = store.subscribeToAll({
      handler: async (e) => {
        seen.push(e)
        // Stop in the middle of the split: the rest of that stored event is still delivered.
        if (seen.length === 1) void first.stop()
      },
    })
    await first.done
    expect(seen.map((e) => e.type)).toEqual(['Opened', 'FundsDeposited'])
    const resumed = store.subscribeToAll({ from: { after: first.checkpoint as bigint }, handler: (e) => void seen.push(e) })
    await resumed.caughtUp
    expect(seen).toEqual(await collect(store.readAll()))
    await resumed.stop()
  })

  it('fails a read whose upcaster throws with UPCAST_FAILED, naming the event, and stops a subscription', async () => {
    const { store, port } = await history()
    const broken = defineEvent('FundsDeposited', {
      version: 3,
      previousTypes: ['Deposited'],
      schema: FundsDeposited.schema,
      upcasters: {
        1: () => {
          throw new Error('boom')
        },
        2: toCents,
      },
    })
    port.deploy(createSchemaRegistry([broken], { unknownTypes: 'allow' }))
    const error = await collect(store.readStream('acc-1')).catch((e) => e)
    expect(error).toMatchObject({ code: 'UPCAST_FAILED', eventType: 'Deposited', fromVersion: 1, cause: { message: 'boom' } })
    const sub = store.subscribeToAll({ handler: () => {} })
    await expect(sub.done).rejects.toMatchObject({ code: 'SUBSCRIPTION_HANDLER_FAILED', cause: { code: 'UPCAST_FAILED' } })
  })
})

describe.each(Object.keys(every) as AdapterName[])('validation on append: %s', (adapter) => {
  let opened: StoreUnderTest | undefined
  afterEach(async () => {
    await opened?.cleanup()
    opened = undefined
  })

  const open = async (): Promise<EventStore> => {
    opened = await adapters[adapter]({ registry: v3 })
    return opened.store
  }

  it('rejects a payload that fails its schema with its issues, and writes nothing of that append', async () => {
    const store = await open()
    const error = await store
      .appendToStream('acc-1', [
        { type: 'Opened', data: { owner: 'Ada' } },
        { type: 'FundsDeposited', data: { cents: 1.5, currency: 'GBP' } },
      ])
      .catch((e) => e)
    expect(error).toMatchObject({ code: 'INVALID_EVENT', eventIndex: 1, eventType: 'FundsDeposited', field: 'events[1].data' })
    expect(error.issues).toEqual([
      { path: ['cents'], message: expect.any(String) },
      { path: ['currency'], message: expect.any(String) },
    ])
    expect(await collect(store.readAll())).toEqual([])
    await store.appendToStream('acc-1', [{ type: 'Opened', data: { owner: 'Ada' } }], { expectedRevision: 'no_stream' })
  })

  it('stores the schema’s output with the current version in the metadata', async () => {
    const store = await open()
    await store.appendToStream('acc-1', [{ type: 'Opened', data: { owner: 'Ada', extra: 'dropped' }, metadata: { by: 'me' } }])
    const [event] = await collect(store.readAll())
    expect(event?.data).toEqual({ owner: 'Ada' })
    expect(event?.metadata).toMatchObject({ by: 'me', schemaVersion: 1 })
  })

  it('refuses unknown, renamed and retired types', async () => {
    const store = await open()
    const append = (type: string) => store.appendToStream('x', [{ type, data: {} }]).catch((e) => e)
    expect(await append('Nope')).toMatchObject({ code: 'UNKNOWN_EVENT_TYPE', eventIndex: 0, eventType: 'Nope' })
    expect((await append('Deposited')).issues[0].message).toContain(`renamed to 'FundsDeposited'`)
    expect(await append('OpenedWithDeposit')).toMatchObject({ code: 'INVALID_EVENT' })
    expect(await collect(store.readAll())).toEqual([])
  })
})
