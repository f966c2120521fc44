import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest'
import { backoff } from '../../src/command/backoff.js'
import {
  createInMemoryEventStore,
  type Decider,
  type EventStore,
  handleCommand,
  type Logger,
  WrongExpectedRevisionError,
} from '../../src/index.js'
import { type AccountCommand, type AccountEvent, type AccountState, account } from '../conformance/deciders.js'
import { collect, failure } from '../conformance/helpers.js'

const open: AccountCommand = { type: 'Open', owner: 'Ada' }
const stores: EventStore[] = []
const fresh = () => {
  const store = createInMemoryEventStore()
  stores.push(store)
  return store
}
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()))
  vi.restoreAllMocks()
})

/** The store with some members replaced: a store lacking a capability, or failing in one place. */
const patched = (store: EventStore, overrides: Partial<Record<keyof EventStore, unknown>>): EventStore =>
  new Proxy(store, {
    get(target, key) {
      if (key in overrides) return overrides[key as keyof EventStore]
      const value = Reflect.get(target, key)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })

const warnings = () => {
  const warn = vi.fn()
  return { logger: { warn } satisfies Logger, warn }
}

describe('handleCommand types', () => {
  it('takes its command and event types from the decider', async () => {
    const r = await handleCommand(fresh(), 'typed', open, account())
    expectTypeOf(r.events[0]!.type).toEqualTypeOf<AccountEvent['type']>()
    expectTypeOf(r.nextExpectedRevision).toEqualTypeOf<bigint>()
    const deposited = r.events.find((e) => e.type === 'Deposited')
    if (deposited?.type === 'Deposited') expectTypeOf(deposited.data).toEqualTypeOf<{ amount: number; balance: number }>()
    // @ts-expect-error: not a command of this decider
    await failure(handleCommand(fresh(), 'typed', { type: 'Close' }, account()))
  })
})

describe('retrying', () => {
  it('draws each delay below a ceiling that doubles per attempt, up to maxDelayMs', () => {
    const policy = backoff(5, { initialDelayMs: 10, maxDelayMs: 50 })
    vi.spyOn(Math, 'random').mockReturnValue(0.999)
    expect([0, 1, 2, 3, 4].map((attempt) => Math.round(policy.delayMs(attempt)))).toEqual([10, 20, 40, 50, 50])
    vi.spyOn(Math, 'random').mockReturnValue(0)
    expect(policy.delayMs(3)).toBe(0)
  })

  it('retries 10 times by default, then throws the conflict; retries: 0 turns it off', async () => {
    const conflicting = (calls: { n: number }) =>
      patched(fresh(), {
        appendToStream: async () => {
          calls.n++
          throw new WrongExpectedRevisionError('s', 'no_stream', 0n)
        },
      })
    const byDefault = { n: 0 }
    const quick = { initialDelayMs: 0.1, maxDelayMs: 1 }
    const error = await failure(handleCommand(conflicting(byDefault), 's', open, account(), { backoff: quick }))
    expect(error.code).toBe('WRONG_EXPECTED_REVISION')
    expect(byDefault.n).toBe(11)
    const off = { n: 0 }
    await failure(handleCommand(conflicting(off), 's', open, account(), { retries: 0 }))
    expect(off.n).toBe(1)
  })

  it('never retries other errors: the store failing, or the decider throwing', async () => {
    const calls = { evolve: 0, decide: 0 }
    const store = patched(fresh(), {
      appendToStream: async () => {
        throw Object.assign(new Error('down'), { code: 'STORE_UNAVAILABLE' })
      },
    })
    expect((await failure(handleCommand(store, 's', open, account({ calls })))).message).toBe('down')
    expect(calls.decide).toBe(1)
    const broken: Decider<AccountState, AccountCommand, AccountEvent> = {
      ...account({ calls }),
      decide: () => {
        throw new TypeError('bug')
      },
    }
    expect(await failure(handleCommand(fresh(), 's', open, broken))).toBeInstanceOf(TypeError)
  })
})

describe('arguments', () => {
  it.each([
    ['an empty commandId', {}, { commandId: '' }],
    ['negative retries', {}, { retries: -1 }],
    ['fractional retries', {}, { retries: 1.5 }],
    ['a NaN delay', {}, { backoff: { maxDelayMs: Number.NaN } }],
    ['a decider without evolve', { evolve: undefined }, {}],
    ['a snapshot policy without a name', { name: undefined, snapshot: { every: 2 } }, {}],
    ['snapshots every 0 events', { snapshot: { every: 0 } }, {}],
    ['a snapshot policy saying neither every nor when', { snapshot: {} }, {}],
    ['a fractional version', { version: 1.5 }, {}],
  ])('refuses %s with INVALID_ARGUMENT, writing nothing', async (_, deciderPatch, options) => {
    const store = fresh()
    const decider = { ...account(), ...deciderPatch } as Decider<AccountState, AccountCommand, AccountEvent>
    expect((await failure(handleCommand(store, 's', open, decider, options as never))).code).toBe('INVALID_ARGUMENT')
    expect(await collect(store.readAll())).toEqual([])
  })
})

describe('metadata', () => {
  it("merges the options' metadata, the event's own and the command id", async () => {
    const decider: Decider<null, 'go', { type: 'Went'; data: number; metadata?: { step: number } }> = {
      initialState: () => null,
      decide: () => [
        { type: 'Went', data: 1, metadata: { step: 1 } },
        { type: 'Went', data: 2 },
      ],
      evolve: (state) => state,
    }
    const r = await handleCommand(fresh(), 'm', 'go', decider, { commandId: 'c', metadata: { correlationId: 'req-9', step: 0 } })
    expect(r.events.map((e) => e.metadata)).toEqual([
      { correlationId: 'req-9', step: 1, commandId: 'c', causationId: r.events[0]?.id },
      { correlationId: 'req-9', step: 0, commandId: 'c', causationId: r.events[1]?.id },
    ])
  })
})

describe('snapshots', () => {
  type Tags = { tags: Set<string> }
  type Tagged = { type: 'Tagged'; data: { tag: string } }
  const tagger = (calls = { evolve: 0 }): Decider<Tags, string, Tagged> => ({
    name: 'tagger',
    initialState: () => ({ tags: new Set() }),
    decide: (tag) => ({ type: 'Tagged', data: { tag } }),
    evolve: (state, event) => {
      calls.evolve++
      return { tags: new Set([...state.tags, event.data.tag]) }
    },
  })

  it('turns state into JSON and back with serialize and deserialize', async () => {
    const store = fresh()
    const calls = { evolve: 0 }
    const decider: Decider<Tags, string, Tagged> = {
      ...tagger(calls),
      snapshot: {
        every: 1,
        serialize: (state) => [...state.tags],
        deserialize: (json) => ({ tags: new Set(json as string[]) }),
      },
    }
    for (const tag of ['a', 'b', 'c']) await handleCommand(store, 't', tag, decider)
    expect((await store.snapshots?.load('t', 'tagger'))?.state).toEqual(['a', 'b', 'c'])
    calls.evolve = 0
    let seen: Tags | undefined
    const watching: Decider<Tags, string, Tagged> = {
      ...decider,
      decide(tag, state) {
        seen = state
        return { type: 'Tagged', data: { tag } }
      },
    }
    await handleCommand(store, 't', 'd', watching)
    expect(seen?.tags).toEqual(new Set(['a', 'b', 'c']))
    expect(calls.evolve).toBe(1) // only the new event, folded for the next snapshot
  })

  it('takes a snapshot when the predicate says so', async () => {
    const store = fresh()
    const when = vi.fn(({ events }: { events: { data: { tag: string } }[] }) => events[0]?.data.tag === 'keep')
    const decider: Decider<Tags, string, Tagged> = {
      ...tagger(),
      snapshot: { when, serialize: (state) => [...state.tags], deserialize: (json) => ({ tags: new Set(json as string[]) }) },
    }
    await handleCommand(store, 'p', 'skip', decider)
    expect(await store.snapshots?.load('p', 'tagger')).toBeUndefined()
    await handleCommand(store, 'p', 'keep', decider)
    expect(await store.snapshots?.load('p', 'tagger')).toMatchObject({ revision: 1n, state: ['skip', 'keep'] })
    expect(when).toHaveBeenLastCalledWith(expect.objectContaining({ revision: 1n, eventsSinceSnapshot: 2 }))
  })

  it('logs a snapshot it cannot save and still succeeds', async () => {
    const { logger, warn } = warnings()
    // A Set is not JSON: the save is refused, the command is not.
    const r = await handleCommand(fresh(), 'n', 'x', { ...tagger(), snapshot: { every: 1 } }, { logger })
    expect(r.events).toHaveLength(1)
    expect(warn).toHaveBeenCalledWith(
      'eventfold: could not save a snapshot; the command succeeded',
      expect.objectContaining({ streamId: 'n', name: 'tagger', error: expect.objectContaining({ code: 'INVALID_ARGUMENT' }) }),
    )
  })

  it('logs a snapshot it cannot load and folds the whole stream', async () => {
    const { logger, warn } = warnings()
    const base = fresh()
    await handleCommand(base, 'l', open, account({ snapshotEvery: 1 }))
    const failing = patched(base, {
      snapshots: { load: async () => Promise.reject(new Error('disk')), save: async () => {} },
    })
    const r = await handleCommand(failing, 'l', { type: 'Deposit', amount: 2 }, account({ snapshotEvery: 1 }), { logger })
    expect(r.events[0]?.data).toEqual({ amount: 2, balance: 2 })
    expect(warn).toHaveBeenCalledWith('eventfold: could not use a snapshot; folding the whole stream', expect.anything())
  })

  it('without locateEvent, still finds an earlier handling hidden behind a snapshot', async () => {
    const store = patched(fresh(), { locateEvent: undefined })
    const decider = account({ snapshotEvery: 1 })
    const first = await handleCommand(store, 'old', open, decider, { commandId: 'c-open' })
    await handleCommand(store, 'old', { type: 'Deposit', amount: 1 }, decider)
    expect(await handleCommand(store, 'old', open, decider, { commandId: 'c-open' })).toEqual(first)
    expect(await collect(store.readStream('old'))).toHaveLength(2)
  })

  it('works on a store without snapshot storage, folding the whole stream', async () => {
    const store = patched(fresh(), { snapshots: undefined })
    const decider = account({ snapshotEvery: 1 })
    await handleCommand(store, 'plain', open, decider)
    const r = await handleCommand(store, 'plain', { type: 'Deposit', amount: 3 }, decider)
    expect(r.events[0]?.data).toEqual({ amount: 3, balance: 3 })
  })
})
