import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { schemaNames } from '../../src/postgres/identifiers.js'
import * as sql from '../../src/postgres/sql.js'
import { DATABASE_URL, dropSchema, storeIn, uniqueSchema } from './helpers.js'

const schema = uniqueSchema('plan_stability')
const names = schemaNames(schema)

beforeAll(async () => {
  const store = storeIn(schema)
  await store.migrate()
  await store.close()
})
afterAll(() => dropSchema(schema))

const event = () => ({ id: randomUUID(), type: 'T', data: '{}', metadata: '{}', idGiven: true })
const append = (client: pg.Client, streamId: string, count: number) =>
  client.query(sql.appendBatch(names, [{ streamId, expected: 'any', events: Array.from({ length: count }, event) }]))

// plpgsql caches a generic plan per connection after a handful of calls. Cached while the log was
// tiny, with no ANALYZE since, it would be a sequential scan that makes every append cost O(log size).
it('keeps index lookups in append_batch after the log grows under a plan cached when it was empty', async () => {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  const scans: string[] = []
  client.on('notice', (notice) => {
    const text = notice.message ?? ''
    for (const match of text.matchAll(/"Node Type": "Seq Scan",[^}]*?"Relation Name": "(\w+)"/g)) scans.push(match[1] as string)
  })
  await client.connect()
  try {
    for (let i = 0; i < 12; i++) await append(client, `small-${i}`, 1)
    await append(client, 'bulk', 20_000)
    await client.query(`LOAD 'auto_explain'`)
    await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
      SET auto_explain.log_format = json; SET auto_explain.log_level = notice`)
    for (let i = 0; i < 3; i++) await append(client, `after-${i}`, 1)
  } finally {
    await client.end()
  }
  expect(scans.filter((relation) => relation === 'events' || relation === 'streams')).toEqual([])
})
