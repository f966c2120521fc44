import { afterAll, beforeAll, expect, it } from 'vitest'
import type { ExpectedRevision } from '../../src/index.js'
import { admin, dropSchema, storeIn, uniqueSchema } from './helpers.js'

// append_batch checks and writes a batch of distinct streams set-based, and hands anything else
// to the sequential loop. Both must give the same answers: this drives one mixed batch through
// each path, on identical histories, and compares every result and the log that results.
const schemas = { set: uniqueSchema('paths_set'), sequential: uniqueSchema('paths_seq') }
const stores = { set: storeIn(schemas.set), sequential: storeIn(schemas.sequential) }

beforeAll(async () => {
  for (const store of Object.values(stores)) {
    await store.migrate()
    await store.appendToStream('existing', [
      { type: 'T', data: 0 },
      { type: 'T', data: 1 },
    ])
    await store.appendToStream('soft', [{ type: 'T', data: 0 }])
    await store.deleteStream('soft', { mode: 'soft' })
    await store.appendToStream('tomb', [{ type: 'T', data: 0 }])
    await store.deleteStream('tomb', { mode: 'hard' })
  }
})

afterAll(async () => {
  await Promise.all(Object.values(stores).map((s) => s.close()))
  await Promise.all(Object.values(schemas).map(dropSchema))
})

// Eight distinct streams: enough for the set-based path (batches under four go one by one).
const batch: [string, ExpectedRevision, number][] = [
  ['existing', 1n, 3],
  ['fresh-a', 'no_stream', 2],
  ['existing-wrong', 'stream_exists', 1],
  ['soft', 0n, 2],
  ['tomb', 'any', 1],
  ['fresh-b', 'any', 1],
  ['soft-stale', 5n, 1],
  ['fresh-c', 'stream_exists', 1],
]

async function run(which: 'set' | 'sequential') {
  const store = stores[which]
  const requests = [...batch]
  // A second append to 'fresh-b' in the same batch makes the batch ineligible for the set-based path.
  if (which === 'sequential') requests.push(['fresh-b', 0n, 1])
  const outcomes = await Promise.all(
    requests.map(([stream, expectedRevision, count]) =>
      store
        .appendToStream(
          stream,
          Array.from({ length: count }, (_, n) => ({ type: 'T', data: n })),
          { expectedRevision },
        )
        .then(
          (r) => `ok ${r.nextExpectedRevision} @${r.position}`,
          (e) => `${e.code} ${String(e.actual ?? '')}`,
        ),
    ),
  )
  const log = await admin<{ position: string; stream_id: string; revision: string }>(
    `SELECT position, stream_id, revision FROM "${schemas[which]}".events ORDER BY position`,
  )
  return { outcomes: outcomes.slice(0, batch.length), log: log.map((r) => `${r.position} ${r.stream_id}#${r.revision}`) }
}

it('gives the same results and the same log on the set-based and the sequential path', async () => {
  const set = await run('set')
  const sequential = await run('sequential')
  expect(set.outcomes).toEqual([
    'ok 4 @7',
    'ok 1 @9',
    'WRONG_EXPECTED_REVISION no_stream',
    'ok 2 @11',
    'STREAM_DELETED ',
    'ok 0 @12',
    'WRONG_EXPECTED_REVISION no_stream',
    'WRONG_EXPECTED_REVISION no_stream',
  ])
  expect(sequential.outcomes).toEqual(set.outcomes)
  expect(sequential.log.slice(0, set.log.length)).toEqual(set.log)
  expect(set.log).toHaveLength(2 + 3 + 2 + 2 + 1)
})
