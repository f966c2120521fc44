import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { ReceivedMessage } from '../../src/index.js'
import { schemaNames } from '../../src/postgres/identifiers.js'
import { createPostgresTransport, type PostgresTransport } from '../../src/postgres/index.js'
import { typeParsers } from '../../src/postgres/rows.js'
import * as sql from '../../src/postgres/transport/sql.js'
import { waitFor } from '../messaging/conformance/helpers.js'
import { DATABASE_URL, dropSchema, uniqueSchema } from './helpers.js'

const schema = uniqueSchema('transport_limit')
const names = schemaNames(schema)
const pool = new pg.Pool({ connectionString: DATABASE_URL, types: typeParsers, max: 2 })
let transport: PostgresTransport

beforeAll(async () => {
  transport = await createPostgresTransport({ connectionString: DATABASE_URL, schema, deliveryLimit: 3, pollIntervalMs: 50 })
})

afterAll(async () => {
  await transport.close()
  await pool.end()
  await dropSchema(schema)
})

it('dead-letters unhandled a message whose consumers kept dying, and its key moves on', async () => {
  // The group exists from its first subscription; then three "consumers" take the message and die (their claims lapse).
  await (await transport.subscribe({ group: 'doomed', handler: () => {} })).stop()
  const { ids } = await transport.publish([
    { type: 'Poison', data: 1, partitionKey: 'k' },
    { type: 'Fine', data: 2, partitionKey: 'k' },
  ])
  for (let death = 1; death <= 3; death++) {
    await waitFor(`delivery ${death}`, async () => {
      const rows = await pool.query<sql.DeliveryRow>(sql.claim(names, 'doomed', `dies-${death}`, 10, 1))
      return rows.rows.length === 1 && Number(rows.rows[0]?.attempt) === death
    })
  }
  const handled: ReceivedMessage[] = []
  await transport.subscribe({ group: 'doomed', handler: (m) => void handled.push(m) })
  await waitFor('the next message of the key', () => handled.length === 1)
  expect(handled[0]).toMatchObject({ id: ids[1], type: 'Fine', attempt: 1 })
  const [letter] = await transport.deadLetters.list('doomed')
  expect(letter).toMatchObject({ id: ids[0], attempts: 3, error: { code: 'DELIVERY_LIMIT' }, message: { type: 'Poison' } })
})
