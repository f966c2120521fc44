import { afterAll, describe, expect, it } from 'vitest'
import {
  createInMemoryEventStore,
  type EventData,
  type EventStore,
  type ExpectedRevision,
  isEventfoldError,
} from '../../src/index.js'
import { collect, dropSchema, storeIn, uniqueSchema } from './helpers.js'

// Differential test: random histories of appends and deletes give the same results, errors and
// logs on PostgreSQL as on the in-memory reference, run one by one and as concurrent batches.

const schemas: string[] = []
afterAll(async () => {
  for (const schema of schemas) await dropSchema(schema)
})

/** mulberry32: a tiny seeded generator, so a failing history can be replayed. */
function random(seed: number) {
  let a = seed
  const next = () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T
  return { next, pick }
}

type Op =
  | { kind: 'append'; streamId: string; events: EventData[]; expected: ExpectedRevision }
  | { kind: 'delete'; streamId: string; mode: 'soft' | 'hard'; expected: ExpectedRevision }

function history(seed: number, length: number): Op[] {
  const { next, pick } = random(seed)
  const streams = ['a', 'b', 'c', 'd', 'e', 'f']
  const expectations = (): ExpectedRevision => pick(['any', 'any', 'no_stream', 'stream_exists', 0n, 1n, 2n, 3n, 5n] as const)
  const appended: EventData[][] = []
  let counter = 0
  const freshId = () => `00000000-0000-7000-8000-${(seed * 100000 + counter++).toString(16).padStart(12, '0')}`
  return Array.from({ length }, (): Op => {
    const streamId = pick(streams)
    const roll = next()
    if (roll < 0.1) return { kind: 'delete', streamId, mode: next() < 0.15 ? 'hard' : 'soft', expected: expectations() }
    if (roll < 0.2 && appended.length > 0) return { kind: 'append', streamId, events: pick(appended), expected: expectations() }
    const events = Array.from({ length: 1 + Math.floor(next() * 3) }, () => ({
      id: roll < 0.3 && appended.length > 0 ? (pick(pick(appended)).id as string) : freshId(),
      type: pick(['X', 'Y']),
      data: { n: counter, s: 'é\u0000"' },
      metadata: next() < 0.5 ? { who: 'test' } : undefined,
    }))
    appended.push(events)
    return { kind: 'append', streamId, events, expected: expectations() }
  })
}

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    (value) => ({ ok: value ?? null }),
    (error: unknown) => {
      if (!isEventfoldError(error)) throw error
      const { code, actual, eventId } = error as unknown as Record<string, unknown>
      return { code, actual, eventId }
    },
  )

const run = (store: EventStore, op: Op) =>
  op.kind === 'append'
    ? outcome(store.appendToStream(op.streamId, op.events, { expectedRevision: op.expected }))
    : outcome(store.deleteStream(op.streamId, { mode: op.mode, expectedRevision: op.expected }))

const snapshot = async (store: EventStore) => ({
  all: (await collect(store.readAll())).map(({ recordedAt: _, ...event }) => event),
  streams: await Promise.all(
    ['a', 'b', 'c', 'd', 'e', 'f'].map(async (id) => [
      (await collect(store.readStream(id))).map((e) => e.id),
      (await collect(store.readStream(id, { direction: 'backwards', fromRevision: 2n }))).map((e) => e.revision),
    ]),
  ),
})

describe('postgres matches the in-memory store', () => {
  it.each([1, 2, 3, 4, 5, 6])('on random history %i, one operation at a time and in batches', async (seed) => {
    const ops = history(seed, 120)
    for (const batched of [false, true]) {
      const schema = uniqueSchema('matches_memory')
      schemas.push(schema)
      const [memory, postgres] = [createInMemoryEventStore(), storeIn(schema)]
      try {
        await postgres.migrate()
        for (let i = 0; i < ops.length; ) {
          // In batched mode, a run of appends is issued in one tick, so it rides in one batch.
          let end = i + 1
          while (batched && end < ops.length && ops[end]!.kind === 'append' && ops[i]!.kind === 'append') end++
          const chunk = ops.slice(i, end)
          const got = await Promise.all(chunk.map((op) => run(postgres, op)))
          const want: unknown[] = []
          for (const op of chunk) want.push(await run(memory, op))
          expect(got, `seed ${seed}, ops ${i}..${end - 1}, batched ${batched}`).toEqual(want)
          i = end
        }
        expect(await snapshot(postgres)).toEqual(await snapshot(memory))
      } finally {
        await Promise.all([memory.close(), postgres.close()])
      }
    }
  })
})
