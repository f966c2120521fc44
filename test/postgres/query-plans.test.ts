import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { schemaNames } from '../../src/postgres/identifiers.js'
import { loadSnapshot } from '../../src/postgres/snapshot-sql.js'
import * as sql from '../../src/postgres/sql.js'
import { admin, DATABASE_URL, dropSchema, storeIn, uniqueSchema } from './helpers.js'

const schema = uniqueSchema('query_plans')
const names = schemaNames(schema)
const store = storeIn(schema)
const STREAMS = 2000
const PER_STREAM = 3

beforeAll(async () => {
  await store.migrate()
  for (let from = 0; from < STREAMS; from += 250) {
    await Promise.all(
      Array.from({ length: 250 }, (_, i) =>
        store.appendToStream(
          `stream-${from + i}`,
          Array.from({ length: PER_STREAM }, (_, k) => ({ type: k === 0 ? 'Opened' : 'Changed', data: { k } })),
        ),
      ),
    )
  }
  // Real statistics, so the planner chooses as it would in production (no enable_seqscan tricks).
  await admin(`ANALYZE "${schema}".events; ANALYZE "${schema}".streams`)
}, 60_000)

afterAll(async () => {
  await store.close()
  await dropSchema(schema)
})

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  Plans?: PlanNode[]
}

const flatten = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(flatten)]

async function explain(query: sql.Query): Promise<PlanNode[]> {
  const [row] = await admin<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${query.text}`, query.values)
  return flatten(row!['QUERY PLAN'][0].Plan)
}

const seqScans = (nodes: PlanNode[]) => nodes.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name'])
const indexes = (nodes: PlanNode[]) => nodes.flatMap((n) => n['Index Name'] ?? [])

describe('postgres query plans', () => {
  const middle = BigInt((STREAMS * PER_STREAM) / 2)

  it.each([
    ['readAll from the start', () => sql.readAllPage(names, 0n, 1000, undefined)],
    ['readAll from the middle', () => sql.readAllPage(names, middle, 1000, undefined)],
    ['readAll at the tail', () => sql.readAllPage(names, BigInt(STREAMS * PER_STREAM - 5), 1000, undefined)],
    ['readAll filtered', () => sql.readAllPage(names, middle, 1000, { eventTypes: ['Opened'], streamPrefix: 'stream-1' })],
    ['headPosition', () => sql.headPosition(names)],
  ])('%s walks the position primary key', async (_, build) => {
    const nodes = await explain(build())
    expect(seqScans(nodes)).toEqual([])
    expect(indexes(nodes)).toContain('events_pkey')
  })

  it.each([
    [
      'forwards from the start',
      () => sql.readStreamPage(names, 'stream-42', { from: undefined, direction: 'forwards', limit: 1000 }),
    ],
    ['forwards from a revision', () => sql.readStreamPage(names, 'stream-42', { from: 1n, direction: 'forwards', limit: 1000 })],
    [
      'backwards from the end',
      () => sql.readStreamPage(names, 'stream-42', { from: undefined, direction: 'backwards', limit: 1000 }),
    ],
    [
      'backwards from a revision',
      () => sql.readStreamPage(names, 'stream-42', { from: 1n, direction: 'backwards', limit: 1000 }),
    ],
    ['streamHead', () => sql.streamHead(names, 'stream-42')],
  ])('readStream %s uses the (stream_id, revision) index', async (_, build) => {
    const nodes = await explain(build())
    expect(seqScans(nodes)).toEqual([])
    expect(indexes(nodes)).toContain('events_stream_id_revision_key')
  })

  it('locateEvent is a point lookup on the event id index', async () => {
    const nodes = await explain(sql.locateEvent(names, randomUUID()))
    expect(seqScans(nodes)).toEqual([])
    expect(indexes(nodes)).toEqual(['events_event_id_key'])
  })

  it('loading a snapshot is a point lookup on its primary key', async () => {
    const nodes = await explain(loadSnapshot(names, 'stream-42', 'account'))
    expect(seqScans(nodes)).toEqual([])
    expect(indexes(nodes)).toEqual(['snapshots_pkey'])
  })

  it('looks streams and event ids up by index inside both append paths and delete_stream', async () => {
    // auto_explain reports the plan of every statement the functions run, as notices to this session.
    const client = new pg.Client({ connectionString: DATABASE_URL })
    const plans: PlanNode[][] = []
    client.on('notice', (notice) => {
      const text = notice.message ?? ''
      if (text.includes('"Plan"')) plans.push(flatten(JSON.parse(text.slice(text.indexOf('{'))).Plan))
    })
    await client.connect()
    try {
      await client.query(`LOAD 'auto_explain'`)
      await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
        SET auto_explain.log_format = json; SET auto_explain.log_level = notice`)
      const ids = [randomUUID(), randomUUID()]
      const batch = sql.appendBatch(names, [
        {
          streamId: 'stream-7',
          expected: 2n,
          events: ids.map((id) => ({ id, type: 'T', data: '1', metadata: '{}', idGiven: true })),
        },
        {
          streamId: 'stream-8',
          expected: 0n,
          events: [{ id: randomUUID(), type: 'T', data: '1', metadata: '{}', idGiven: true }],
        },
      ])
      await client.query(batch) // writes, then a conflict
      await client.query(batch) // an idempotent retry, then a duplicate id
      // Four requests or more take the set-based path.
      const wide = Array.from({ length: 8 }, (_, i) => ({
        streamId: `stream-${20 + i}`,
        expected: 'any' as const,
        events: [{ id: randomUUID(), type: 'T', data: '1', metadata: '{}', idGiven: true }],
      }))
      await client.query(sql.appendBatch(names, wide))
      await client.query(sql.deleteStream(names, 'stream-9', 'soft', 'any'))
    } finally {
      await client.end()
    }
    const all = plans.flat()
    expect(plans.length).toBeGreaterThan(10)
    expect(
      seqScans(all).filter((relation) => relation === 'events' || relation === 'streams' || relation === 'snapshots'),
    ).toEqual([])
    // delete_stream (version 3) also forgets the stream's snapshots, by their primary key.
    expect(new Set(indexes(all))).toEqual(
      new Set(['events_event_id_key', 'streams_pkey', 'events_stream_id_revision_key', 'snapshots_pkey']),
    )
  })
})
