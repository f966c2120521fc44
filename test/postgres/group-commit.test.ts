import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEventStore } from '../../src/core/internal.js'
import { isEventfoldError } from '../../src/index.js'
import { PostgresBackend } from '../../src/postgres/event-store.js'
import { schemaNames } from '../../src/postgres/identifiers.js'
import { admin, collect, DATABASE_URL, dropSchema, uniqueSchema } from './helpers.js'

const schema = uniqueSchema('group_commit')
// Built from the backend directly to reach the appender's internal counters.
const backend = new PostgresBackend({
  connectionString: DATABASE_URL,
  names: schemaNames(schema),
  poolSize: 4,
  logger: undefined,
  inline: [],
})
const store = createEventStore(backend)
const stats = backend.appender.stats

beforeAll(() => store.migrate())
afterAll(async () => {
  await store.close()
  await dropSchema(schema)
})

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error) => (isEventfoldError(error) ? error.code : `unexpected: ${String(error)}`),
  )

describe('postgres group commit', () => {
  it('sends many concurrent appends in far fewer round trips', async () => {
    const before = stats.batches
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => store.appendToStream(`distinct-${i}`, [{ type: 'T', data: i }])),
    )
    expect(stats.batches - before).toBeLessThan(10)
    const positions = results.map((r) => r.position)
    expect(new Set(positions).size).toBe(300)
    expect(results.every((r) => r.nextExpectedRevision === 0n)).toBe(true)
  })

  it('batches a steady stream of appends from many independent callers', async () => {
    const before = { ...stats }
    await Promise.all(
      Array.from({ length: 20 }, async (_, writer) => {
        for (let i = 0; i < 20; i++) await store.appendToStream(`steady-${writer}`, [{ type: 'T', data: i }])
      }),
    )
    const requests = stats.requests - before.requests
    expect(requests).toBe(400)
    expect(stats.batches - before.batches).toBeLessThan(requests)
    const revisions = (await collect(store.readStream('steady-7'))).map((e) => e.revision)
    expect(revisions).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i)))
  })

  it('fails only the conflicting appends of a batch, and applies the batch in call order', async () => {
    await store.appendToStream('tomb', [{ type: 'T', data: 0 }])
    await store.deleteStream('tomb', { mode: 'hard' })
    const shared = '0190a3b4-0000-7000-8000-00000000abcd'
    const before = stats.batches
    const outcomes = await Promise.all([
      codeOf(store.appendToStream('c1', [{ type: 'T', data: 1 }], { expectedRevision: 'no_stream' })),
      codeOf(store.appendToStream('c1', [{ type: 'T', data: 2 }], { expectedRevision: 'no_stream' })),
      codeOf(store.appendToStream('c1', [{ type: 'T', data: 3 }], { expectedRevision: 0n })),
      codeOf(store.appendToStream('c2', [{ id: shared, type: 'T', data: 4 }])),
      codeOf(store.appendToStream('c3', [{ id: shared, type: 'T', data: 5 }])),
      codeOf(store.appendToStream('tomb', [{ type: 'T', data: 6 }])),
      codeOf(store.appendToStream('c4', [{ type: 'T', data: 7 }], { expectedRevision: 'stream_exists' })),
      codeOf(store.appendToStream('c4', [{ type: 'T', data: 8 }])),
    ])
    expect(stats.batches - before).toBe(1)
    expect(outcomes).toEqual([
      'ok',
      'WRONG_EXPECTED_REVISION',
      'ok',
      'ok',
      'DUPLICATE_EVENT_ID',
      'STREAM_DELETED',
      'WRONG_EXPECTED_REVISION',
      'ok',
    ])
    const c1 = await collect(store.readStream('c1'))
    expect(c1.map((e) => [e.revision, e.data])).toEqual([
      [0n, 1],
      [1n, 3],
    ])
  })

  it('reports the actual revision of a conflict inside a batch', async () => {
    const [, failure] = await Promise.allSettled([
      store.appendToStream('actual', [
        { type: 'T', data: 1 },
        { type: 'T', data: 2 },
      ]),
      store.appendToStream('actual', [{ type: 'T', data: 3 }], { expectedRevision: 0n }),
    ])
    expect(failure).toMatchObject({ status: 'rejected', reason: { code: 'WRONG_EXPECTED_REVISION', expected: 0n, actual: 1n } })
  })

  it('isolates a request that makes the database raise: the rest of its batch still commits', async () => {
    // Test only: the database rejects any 'Poison' event, failing the whole batch it rides in.
    await admin(`
      CREATE FUNCTION "${schema}".poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'poisoned'; END $$;
      CREATE TRIGGER poison BEFORE INSERT ON "${schema}".events
      FOR EACH ROW WHEN (NEW.type = 'Poison') EXECUTE FUNCTION "${schema}".poison();`)
    const outcomes = await Promise.allSettled([
      store.appendToStream('p1', [{ type: 'T', data: 1 }]),
      store.appendToStream('p2', [{ type: 'Poison', data: 2 }]),
      store.appendToStream('p3', [{ type: 'T', data: 3 }]),
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'poisoned' })
    expect(await collect(store.readStream('p2'))).toEqual([])
    expect((await collect(store.readStream('p3'))).map((e) => e.data)).toEqual([3])
  })

  it('bounds batches by event count, and still sends an oversized append alone', async () => {
    const before = stats.batches
    const small = Array.from({ length: 1500 }, (_, i) => store.appendToStream(`bound-${i % 50}`, [{ type: 'T', data: i }]))
    const big = store.appendToStream(
      'big',
      Array.from({ length: 1200 }, (_, i) => ({ type: 'T', data: i })),
    )
    await Promise.all([...small, big])
    expect(stats.batches - before).toBeGreaterThanOrEqual(3)
    expect((await big).nextExpectedRevision).toBe(1199n)
    const all = await collect(store.readAll())
    const positions = all.map((e) => e.position)
    expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : 1)))
  })
})
