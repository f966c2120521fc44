import { describe, expect, it } from 'vitest'
import type { ExpectedRevision } from '../../src/index.js'
import { barrier, collect, events, failure } from './helpers.js'
import type { SuiteContext } from './suite.js'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

export function appendSuite({ store, open }: SuiteContext) {
  describe('append', () => {
    it('records events with ids, revisions, positions, time and metadata', async () => {
      const before = Date.now()
      const given = '0190a5b2-3c4d-4e5f-8a6b-7c8d9e0f1a2b'
      const r = await store().appendToStream('order-1', [
        { type: 'Placed', data: { total: 10, lines: [{ sku: 'a', qty: 2 }] } },
        { type: 'Paid', data: 'card', id: given, metadata: { userId: 'u1', correlationId: 'c-1' } },
      ])
      const [placed, paid] = await collect(store().readStream('order-1'))
      expect(r).toEqual({ nextExpectedRevision: 1n, position: paid?.position })
      expect(placed).toMatchObject({
        type: 'Placed',
        streamId: 'order-1',
        revision: 0n,
        data: { total: 10, lines: [{ sku: 'a', qty: 2 }] },
      })
      expect(placed?.id).toMatch(UUID_V7)
      expect(placed?.metadata).toEqual({ correlationId: placed?.id, causationId: placed?.id })
      expect(paid).toMatchObject({ id: given, type: 'Paid', data: 'card', revision: 1n })
      expect(paid?.metadata).toEqual({ userId: 'u1', correlationId: 'c-1', causationId: given })
      expect(paid?.position).toBeGreaterThan(placed?.position as bigint)
      expect(placed?.recordedAt).toBeInstanceOf(Date)
      expect(placed?.recordedAt.getTime()).toBeGreaterThanOrEqual(before - 1000)
      expect(placed?.recordedAt.getTime()).toBeLessThanOrEqual(Date.now() + 1000)
    })

    it('keeps JSON data exactly: nesting, unicode, null, numbers, empty containers', async () => {
      const data = { s: 'naïve ☃ 𝄞 "quoted" \\ \n', n: [0, -1.5, 1e21, 2 ** 53 - 1], z: null, e: {}, a: [], t: true }
      await store().appendToStream('json-1', [
        { type: 'T', data },
        { type: 'T', data: null },
        { type: 'T', data: [1, 'x'] },
      ])
      const read = await collect(store().readStream('json-1'))
      expect(read.map((e) => e.data)).toEqual([data, null, [1, 'x']])
    })

    it('numbers revisions per stream and positions globally', async () => {
      await store().appendToStream('a', events(2))
      await store().appendToStream('b', events(1))
      const r = await store().appendToStream('a', events(1))
      expect(r.nextExpectedRevision).toBe(2n)
      const all = await collect(store().readAll())
      expect(all.map((e) => [e.streamId, e.revision])).toEqual([
        ['a', 0n],
        ['a', 1n],
        ['b', 0n],
        ['a', 2n],
      ])
      expect(all.at(-1)?.position).toBe(r.position)
    })

    describe('expected revision', () => {
      type Case = [string, ExpectedRevision, 'ok' | 'no_stream' | bigint]
      const onMissing: Case[] = [
        ['any', 'any', 'ok'],
        ['no_stream', 'no_stream', 'ok'],
        ['stream_exists', 'stream_exists', 'no_stream'],
        ['0n', 0n, 'no_stream'],
      ]
      const onExisting: Case[] = [
        ['any', 'any', 'ok'],
        ['no_stream', 'no_stream', 1n],
        ['stream_exists', 'stream_exists', 'ok'],
        ['the last revision', 1n, 'ok'],
        ['an older revision', 0n, 1n],
        ['a future revision', 5n, 1n],
      ]

      for (const [name, expected, outcome] of onMissing) {
        it(`${name} on a missing stream: ${outcome === 'ok' ? 'appends' : 'fails'}`, async () => {
          const attempt = store().appendToStream('missing', events(1), { expectedRevision: expected })
          if (outcome === 'ok') return expect((await attempt).nextExpectedRevision).toBe(0n)
          const error = await failure(attempt)
          expect(error).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', streamId: 'missing', expected, actual: outcome })
          expect(await collect(store().readAll())).toEqual([])
        })
      }

      for (const [name, expected, outcome] of onExisting) {
        it(`${name} on a stream at revision 1: ${outcome === 'ok' ? 'appends' : 'fails'}`, async () => {
          await store().appendToStream('s', events(2))
          const attempt = store().appendToStream('s', events(2, 'More'), { expectedRevision: expected })
          if (outcome === 'ok') return expect((await attempt).nextExpectedRevision).toBe(3n)
          const error = await failure(attempt)
          expect(error).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', streamId: 's', expected, actual: outcome })
          expect((await collect(store().readStream('s'))).map((e) => e.type)).toEqual(['Happened', 'Happened'])
        })
      }
    })

    it('loses no update: 32 writers read, decide and append to one stream', async () => {
      const writers = 32
      const attempts: string[] = []
      let remaining = Array.from({ length: writers }, (_, i) => i)
      let rounds = 0
      while (remaining.length > 0) {
        rounds++
        // Everyone reads before anyone appends, so every round has exactly one winner.
        const allRead = barrier(remaining.length)
        const outcomes = await Promise.all(
          remaining.map(async (writer) => {
            const { revision } = await store().aggregateStream('counter', { initialState: () => 0, evolve: (n) => n + 1 })
            await allRead()
            const expectedRevision = revision ?? 'no_stream'
            try {
              await store().appendToStream(
                'counter',
                [{ type: 'Incremented', data: { writer, basedOn: String(revision ?? -1n) } }],
                {
                  expectedRevision,
                },
              )
              attempts.push('ok')
              return { writer, ok: true }
            } catch (error) {
              expect(error).toMatchObject({ code: 'WRONG_EXPECTED_REVISION' })
              attempts.push('conflict')
              return { writer, ok: false }
            }
          }),
        )
        expect(outcomes.filter((o) => o.ok)).toHaveLength(1)
        remaining = outcomes.filter((o) => !o.ok).map((o) => o.writer)
      }
      const stream = await collect(store().readStream('counter'))
      expect(rounds).toBe(writers)
      expect(stream).toHaveLength(attempts.filter((a) => a === 'ok').length)
      expect(attempts.filter((a) => a === 'conflict')).toHaveLength((writers * (writers - 1)) / 2)
      // Each success was decided on the state just before it: nothing was overwritten.
      expect(stream.map((e) => (e.data as { basedOn: string }).basedOn)).toEqual(stream.map((_, i) => String(i - 1)))
      expect(new Set(stream.map((e) => (e.data as { writer: number }).writer)).size).toBe(writers)
    })

    it('appends all or nothing: a bad event anywhere in the batch writes none', async () => {
      const error = await failure(
        store().appendToStream('atomic', [
          { type: 'Good', data: 1 },
          { type: 'Bad', data: { f: () => 1 } as never },
        ]),
      )
      expect(error.code).toBe('INVALID_EVENT_DATA')
      expect(await collect(store().readAll())).toEqual([])
    })

    it('appends to different streams concurrently with distinct positions', async () => {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => store().appendToStream(`c-${i}`, events(3), { expectedRevision: 'no_stream' })),
      )
      const positions = results.map((r) => r.position)
      expect(new Set(positions).size).toBe(40)
      const all = await collect(store().readAll())
      expect(all).toHaveLength(120)
      for (const r of results) expect(all.some((e) => e.position === r.position && e.revision === 2n)).toBe(true)
    })

    describe('idempotent retry', () => {
      const ids = ['0190a5b2-0000-7000-8000-000000000001', '0190a5b2-0000-7000-8000-000000000002']
      const withIds = () => ids.map((id, n) => ({ id, type: 'Paid', data: { n } }))

      it('returns the first result and writes nothing when the same events are appended again', async () => {
        await store().appendToStream('pay', events(1))
        const first = await store().appendToStream('pay', withIds(), { expectedRevision: 0n })
        await store().appendToStream('other', events(1))
        const again = await store().appendToStream('pay', withIds(), { expectedRevision: 0n })
        const anyAgain = await store().appendToStream('pay', withIds())
        expect(again).toEqual(first)
        expect(anyAgain).toEqual(first)
        expect(await collect(store().readStream('pay'))).toHaveLength(3)
      })

      it('treats a retried first append with no_stream as idempotent', async () => {
        const first = await store().appendToStream('new', withIds(), { expectedRevision: 'no_stream' })
        expect(await store().appendToStream('new', withIds(), { expectedRevision: 'no_stream' })).toEqual(first)
        expect(await collect(store().readAll())).toHaveLength(2)
      })

      it('refuses an id already used in another stream or at another place', async () => {
        await store().appendToStream('pay', withIds())
        const elsewhere = await failure(store().appendToStream('other', [{ id: ids[0], type: 'X', data: 1 }]))
        expect(elsewhere).toMatchObject({ code: 'DUPLICATE_EVENT_ID', eventId: ids[0] })
        const partly = await failure(store().appendToStream('pay', [{ id: ids[1], type: 'X', data: 1 }, ...events(1)]))
        expect(partly.code).toBe('DUPLICATE_EVENT_ID')
        const reordered = await failure(store().appendToStream('pay', withIds().reverse()))
        expect(reordered.code).toBe('DUPLICATE_EVENT_ID')
        const wrongPlace = await failure(store().appendToStream('pay', withIds(), { expectedRevision: 5n }))
        expect(wrongPlace.code).toBe('DUPLICATE_EVENT_ID')
        expect(await collect(store().readAll())).toHaveLength(2)
      })

      it('refuses the same id twice in one append', async () => {
        const error = await failure(store().appendToStream('dup', [withIds()[0], withIds()[0]] as never))
        expect(error.code).toBe('DUPLICATE_EVENT_ID')
        expect(await collect(store().readAll())).toEqual([])
      })
    })

    it('enforces a configurable size limit on each event', async () => {
      const small = await open({ limits: { maxEventBytes: 400 } })
      await small.appendToStream('s', [{ type: 'Fits', data: 'x'.repeat(100) }])
      const error = await failure(small.appendToStream('s', [{ type: 'TooBig', data: 'x'.repeat(500) }]))
      expect(error).toMatchObject({ code: 'EVENT_TOO_LARGE', limit: 400 })
      expect(await collect(small.readStream('s'))).toHaveLength(1)
      const huge = await failure(store().appendToStream('s', [{ type: 'Huge', data: 'x'.repeat(1024 * 1024 + 1) }]))
      expect(huge.code).toBe('EVENT_TOO_LARGE')
    })

    it('migrates idempotently and refuses work once closed', async () => {
      await store().migrate()
      await store().appendToStream('m', events(1))
      await store().migrate()
      expect(await collect(store().readStream('m'))).toHaveLength(1)
      const closed = await open({})
      await closed.close()
      expect((await failure(closed.appendToStream('m', events(1)))).code).toBe('STORE_CLOSED')
      expect((await failure(() => closed.subscribeToAll({ handler() {} }))).code).toBe('STORE_CLOSED')
    })
  })
}
