import { describe, expect, it } from 'vitest'
import { commandEventId, type EventStore, handleCommand, isEventfoldError } from '../../src/index.js'
import { type AccountCommand, type AccountState, account } from './deciders.js'
import { collect, failure } from './helpers.js'
import type { SuiteContext } from './suite.js'

const open: AccountCommand = { type: 'Open', owner: 'Ada' }
const deposit = (amount: number, times?: number): AccountCommand => ({ type: 'Deposit', amount, times })

/** Opens the account and makes `deposits` deposits of 1, one command each. */
async function history(store: EventStore, streamId: string, deposits: number, decider = account()) {
  await handleCommand(store, streamId, open, decider)
  for (let i = 0; i < deposits; i++) await handleCommand(store, streamId, deposit(1), decider)
}

export function commandSuite({ store }: SuiteContext) {
  describe('handleCommand', () => {
    it('decides on the folded stream, appends at the expected revision and returns what was recorded', async () => {
      await handleCommand(store(), 'acc', open, account())
      const r = await handleCommand(store(), 'acc', deposit(5, 2), account())
      const stream = await collect(store().readStream('acc'))
      expect(r.nextExpectedRevision).toBe(2n)
      expect(r.position).toBe(stream.at(-1)?.position)
      expect(r.events).toEqual(stream.slice(1))
      expect(r.events.map((e) => e.data)).toEqual([
        { amount: 5, balance: 5 },
        { amount: 5, balance: 10 },
      ])
    })

    it('loses no update: 16 concurrent handlers of one stream all succeed, each deciding on the state before it', async () => {
      await handleCommand(store(), 'hot', open, account())
      const results = await Promise.all(Array.from({ length: 16 }, () => handleCommand(store(), 'hot', deposit(1), account())))
      const stream = await collect(store().readStream('hot'))
      expect(stream).toHaveLength(17)
      // Each deposit saw every earlier one: the balances it recorded run 1..16 without a gap or a repeat.
      expect(stream.slice(1).map((e) => (e.data as { balance: number }).balance)).toEqual(
        Array.from({ length: 16 }, (_, i) => i + 1),
      )
      expect(results.map((r) => r.nextExpectedRevision).sort((a, b) => Number(a - b))).toEqual(
        Array.from({ length: 16 }, (_, i) => BigInt(i + 1)),
      )
    })

    it('decides again on each conflict, and gives up after `retries` with WRONG_EXPECTED_REVISION', async () => {
      await handleCommand(store(), 'contended', open, account())
      // A decider that lets another writer append between its decision and its append, `times` times.
      const interfering = (times: number) => {
        const base = account()
        const writes: Promise<unknown>[] = []
        const decider = {
          ...base,
          decide(command: AccountCommand, state: AccountState) {
            if (writes.length < times)
              writes.push(store().appendToStream('contended', [{ type: 'Deposited', data: { amount: 100, balance: -1 } }]))
            return base.decide(command, state)
          },
        }
        return { decider, writes }
      }
      const quick = { initialDelayMs: 1 }

      const losing = interfering(3)
      const error = await failure(handleCommand(store(), 'contended', deposit(1), losing.decider, { retries: 2, backoff: quick }))
      await Promise.all(losing.writes)
      expect(error).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', streamId: 'contended' })
      expect(losing.writes).toHaveLength(3)

      const winning = interfering(3)
      const r = await handleCommand(store(), 'contended', deposit(1), winning.decider, { retries: 3, backoff: quick })
      await Promise.all(winning.writes)
      // Decided on the state after all six interfering deposits.
      expect(r.events.map((e) => e.data)).toEqual([{ amount: 1, balance: 601 }])
      expect(await collect(store().readStream('contended'))).toHaveLength(8)
    })

    it('throws a rejection as a typed domain error: never retried, nothing appended', async () => {
      const calls = { evolve: 0, decide: 0 }
      await handleCommand(store(), 'poor', open, account())
      const error = await failure(handleCommand(store(), 'poor', { type: 'Withdraw', amount: 5 }, account({ calls })))
      expect(error).toMatchObject({ code: 'COMMAND_REJECTED', reason: 'insufficient funds', details: { balance: 0 } })
      expect(isEventfoldError(error, 'COMMAND_REJECTED')).toBe(true)
      expect(calls.decide).toBe(1)
      expect(await collect(store().readStream('poor'))).toHaveLength(1)
    })

    it('appends nothing when the decider returns no event, and returns the stream as it was', async () => {
      expect(await handleCommand(store(), 'quiet', { type: 'Check' }, account())).toEqual({
        nextExpectedRevision: -1n,
        position: 0n,
        events: [],
      })
      await handleCommand(store(), 'quiet', open, account())
      const last = (await collect(store().readAll())).at(-1)
      expect(await handleCommand(store(), 'quiet', { type: 'Check' }, account())).toEqual({
        nextExpectedRevision: 0n,
        position: last?.position,
        events: [],
      })
      expect(await collect(store().readAll())).toHaveLength(1)
    })

    it('continues a soft-deleted stream at its revision', async () => {
      await history(store(), 'again', 2)
      await store().deleteStream('again')
      const r = await handleCommand(store(), 'again', open, account())
      expect(r.nextExpectedRevision).toBe(3n)
      expect((await collect(store().readStream('again'))).map((e) => e.type)).toEqual(['Opened'])
    })

    it('locates a stored event by id', async () => {
      const r = await handleCommand(store(), 'located', open, account())
      const [event] = r.events
      expect(store().locateEvent).toBeTypeOf('function')
      expect(await store().locateEvent?.(event?.id.toUpperCase() as string)).toEqual({
        streamId: 'located',
        revision: 0n,
        position: r.position,
      })
      expect(await store().locateEvent?.('0190a5b2-0000-7000-8000-0000000000ff')).toBeUndefined()
      expect((await failure(store().locateEvent?.('nope') as Promise<unknown>)).code).toBe('INVALID_EVENT_ID')
      await store().deleteStream('located')
      expect(await store().locateEvent?.(event?.id as string)).toBeUndefined()
    })
  })

  describe('handleCommand with a command id', () => {
    it('appends once and returns the first result when the same command is handled again', async () => {
      await handleCommand(store(), 'idem', open, account())
      const first = await handleCommand(store(), 'idem', deposit(5, 3), account(), { commandId: 'cmd-1' })
      await handleCommand(store(), 'idem', deposit(1), account())
      const again = await handleCommand(store(), 'idem', deposit(5, 3), account(), { commandId: 'cmd-1' })
      expect(again).toEqual(first)
      expect(await collect(store().readStream('idem'))).toHaveLength(5)
      expect(first.events.map((e) => e.id)).toEqual([0, 1, 2].map((i) => commandEventId('cmd-1', 'idem', i)))
      expect(first.events.every((e) => e.metadata.commandId === 'cmd-1')).toBe(true)
    })

    it('returns the first result even where deciding again would now reject the command', async () => {
      const first = await handleCommand(store(), 'once', open, account(), { commandId: 'open-once' })
      expect(await handleCommand(store(), 'once', open, account(), { commandId: 'open-once' })).toEqual(first)
      expect((await failure(handleCommand(store(), 'once', open, account()))).code).toBe('COMMAND_REJECTED')
    })

    it('appends once when handled concurrently, and every handler gets the same result', async () => {
      await handleCommand(store(), 'race', open, account())
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          i % 2 === 0
            ? handleCommand(store(), 'race', deposit(7, 2), account(), { commandId: 'same', retries: 100 })
            : handleCommand(store(), 'race', deposit(1), account(), { retries: 100 }),
        ),
      )
      const same = results.filter((_, i) => i % 2 === 0)
      for (const r of same) expect(r).toEqual(same[0])
      const stream = await collect(store().readStream('race'))
      expect(stream.filter((e) => e.metadata.commandId === 'same')).toHaveLength(2)
      expect(stream).toHaveLength(1 + 2 + 4)
    })

    it('keeps distinct command ids and streams apart', async () => {
      await handleCommand(store(), 'a', open, account(), { commandId: 'x' })
      await handleCommand(store(), 'b', open, account(), { commandId: 'x' })
      await handleCommand(store(), 'a', deposit(1), account(), { commandId: 'y' })
      expect(await collect(store().readAll())).toHaveLength(3)
    })
  })

  describe('snapshots', () => {
    it('loads from the latest snapshot, folding only the events after it', async () => {
      const snapshotted = { evolve: 0, decide: 0 }
      const full = { evolve: 0, decide: 0 }
      await history(store(), 'snap', 20, account({ snapshotEvery: 5 }))
      const saved = await store().snapshots?.load('snap', 'account')
      expect(saved).toMatchObject({ version: 1, firstRevision: 0n, state: { open: true } })
      expect(saved?.revision).toBeGreaterThanOrEqual(16n)

      const r = await handleCommand(store(), 'snap', deposit(1), account({ snapshotEvery: 5, calls: snapshotted }))
      await handleCommand(store(), 'snap', { type: 'Check' }, account({ calls: full }))
      expect(r.events[0]?.data).toEqual({ amount: 1, balance: 21 })
      // Fewer than the snapshot interval, against 22 events folded without a snapshot.
      expect(snapshotted.evolve).toBeLessThanOrEqual(5)
      expect(full.evolve).toBe(22)
    })

    it('ignores a snapshot made by another version of the decider', async () => {
      await history(store(), 'versioned', 6, account({ snapshotEvery: 2 }))
      const calls = { evolve: 0, decide: 0 }
      const r = await handleCommand(store(), 'versioned', deposit(1), account({ version: 2, snapshotEvery: 2, calls }))
      expect(calls.evolve).toBeGreaterThanOrEqual(7)
      expect(r.events[0]?.data).toEqual({ amount: 1, balance: 7 })
      expect((await store().snapshots?.load('versioned', 'account'))?.version).toBe(2)
    })

    it('uses the snapshot to find an earlier handling of the same command behind it', async () => {
      const first = await handleCommand(store(), 'behind', open, account({ snapshotEvery: 1 }), { commandId: 'c-open' })
      await handleCommand(store(), 'behind', deposit(2), account({ snapshotEvery: 1 }))
      const calls = { evolve: 0, decide: 0 }
      const again = await handleCommand(store(), 'behind', open, account({ snapshotEvery: 1, calls }), {
        commandId: 'c-open',
      })
      expect(again).toEqual(first)
      expect(calls.evolve).toBe(0)
    })

    it('never trusts a snapshot past a soft delete, even one saved after it', async () => {
      await history(store(), 'gone', 3, account({ snapshotEvery: 1 }))
      const stale = await store().snapshots?.load('gone', 'account')
      await store().deleteStream('gone')
      expect(await store().snapshots?.load('gone', 'account')).toBeUndefined()
      // A handler that loaded before the delete appends after it, then saves its (stale) state.
      await store().appendToStream('gone', [{ type: 'Deposited', data: { amount: 1, balance: 4 } }], { expectedRevision: 3n })
      await store().snapshots?.save('gone', 'account', { ...(stale as NonNullable<typeof stale>), revision: 4n })
      expect((await store().snapshots?.load('gone', 'account'))?.firstRevision).toBe(0n)

      // Trusted, the snapshot would say the account is open and refuse to open it again.
      const r = await handleCommand(store(), 'gone', open, account({ snapshotEvery: 1 }))
      expect(r.nextExpectedRevision).toBe(5n)
      const fresh = await store().snapshots?.load('gone', 'account')
      expect(fresh).toMatchObject({ revision: 5n, firstRevision: 4n, state: { open: true, balance: 0 } })
    })

    it('forgets snapshots on a hard delete; the stream then refuses commands', async () => {
      await history(store(), 'erased', 2, account({ snapshotEvery: 1 }))
      await store().deleteStream('erased', { mode: 'hard' })
      expect(await store().snapshots?.load('erased', 'account')).toBeUndefined()
      await store().snapshots?.save('erased', 'account', {
        state: { open: true, balance: 9 },
        revision: 2n,
        position: 3n,
        firstRevision: 0n,
        version: 1,
      })
      expect(await store().snapshots?.load('erased', 'account')).toBeUndefined()
      expect((await failure(handleCommand(store(), 'erased', open, account({ snapshotEvery: 1 })))).code).toBe('STREAM_DELETED')
    })

    it('stores one snapshot per stream and name, keeping the newest of a version', async () => {
      const snapshots = store().snapshots
      expect(snapshots).toBeDefined()
      if (snapshots === undefined) return
      await store().appendToStream('kept', [{ type: 'T', data: 1 }])
      const at = (revision: bigint, version = 1) => ({
        state: { at: Number(revision) },
        revision,
        position: 1n,
        firstRevision: 0n,
        version,
      })
      await snapshots.save('kept', 'n', at(5n))
      await snapshots.save('kept', 'n', at(3n))
      expect(await snapshots.load('kept', 'n')).toEqual(at(5n))
      await snapshots.save('kept', 'n', at(3n, 2))
      expect(await snapshots.load('kept', 'n')).toEqual(at(3n, 2))
      await snapshots.save('kept', 'other', at(1n))
      expect(await snapshots.load('kept', 'other')).toEqual(at(1n))
      await snapshots.save('never-written', 'n', at(1n))
      expect(await snapshots.load('never-written', 'n')).toBeUndefined()
      const state = { s: 'naïve ☃ "q" \\', n: [1.5, null, true], nested: { a: [] } }
      await snapshots.save('kept', 'json', { ...at(1n), state })
      expect((await snapshots.load('kept', 'json'))?.state).toEqual(state)
    })

    it('refuses bad snapshot input with INVALID_ARGUMENT and writes nothing', async () => {
      const snapshots = store().snapshots
      if (snapshots === undefined) return expect.unreachable('every built-in store keeps snapshots')
      await store().appendToStream('bad', [{ type: 'T', data: 1 }])
      const good = { state: 1, revision: 0n, position: 1n, firstRevision: 0n, version: 1 }
      for (const bad of [
        { ...good, state: new Map() },
        { ...good, state: { n: Number.NaN } },
        { ...good, revision: 1 },
        { ...good, firstRevision: 2n },
        { ...good, version: 1.5 },
      ]) {
        expect((await failure(snapshots.save('bad', 'n', bad as never))).code).toBe('INVALID_ARGUMENT')
      }
      expect((await failure(snapshots.save('bad', '', good))).code).toBe('INVALID_ARGUMENT')
      expect((await failure(snapshots.save('', 'n', good))).code).toBe('INVALID_STREAM_ID')
      expect(await snapshots.load('bad', 'n')).toBeUndefined()
    })
  })
}
