import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { schemaNames } from '../../src/postgres/identifiers.js'
import { createPostgresTransport, type PostgresTransport } from '../../src/postgres/index.js'
import * as sql from '../../src/postgres/transport/sql.js'
import { admin, DATABASE_URL, dropSchema, uniqueSchema } from './helpers.js'

// Publishers route by a copy of the subscriptions, checked against a routing version in the
// publishing statement (schema version 9). A stale copy must never route a message differently
// from what the subscriptions say when the publish runs.
const schema = uniqueSchema('transport_routing')
// Its own schema for a group that takes every type, which would see the other tests' messages.
const everythingSchema = uniqueSchema('transport_routing_all')
const names = schemaNames(schema)
const opened: PostgresTransport[] = []

async function open(inSchema = schema): Promise<PostgresTransport> {
  const transport = await createPostgresTransport({ connectionString: DATABASE_URL, schema: inSchema })
  opened.push(transport)
  return transport
}

/** Registers the group for the types, as a member that then stops: its rows stay in the table to count. */
async function subscribeGroup(transport: PostgresTransport, group: string, types?: string[]): Promise<void> {
  await (await transport.subscribe({ group, types, handler: () => {} })).stop()
}

const rowsOf = async (type: string, inSchema = schema) =>
  (
    await admin<{ group_name: string; n: string }>(
      `SELECT group_name, count(*)::text AS n FROM "${inSchema}".transport_deliveries WHERE type = $1 GROUP BY group_name ORDER BY group_name`,
      [type],
    )
  ).map((row) => `${row.group_name}:${row.n}`)

const version = async () =>
  BigInt((await admin<{ version: string }>(`SELECT version::text AS version FROM "${schema}".transport_routing`))[0]!.version)

beforeAll(async () => {
  await open()
})

afterAll(async () => {
  await Promise.all(opened.map((t) => t.close()))
  await dropSchema(schema)
  await dropSchema(everythingSchema)
})

it('a group another process subscribes after a publisher read its copy gets the next publish', async () => {
  const [publisher, other] = [await open(), await open()]
  await subscribeGroup(other, 'first', ['Late'])
  await publisher.publish([{ type: 'Late', data: 1 }])
  expect(await rowsOf('Late')).toEqual(['first:1'])

  await subscribeGroup(other, 'second', ['Late'])
  await publisher.publish([{ type: 'Late', data: 2 }])
  await publisher.publish([
    { type: 'Late', data: 3 },
    { type: 'Late', data: 4 },
  ])
  expect(await rowsOf('Late')).toEqual(['first:4', 'second:3'])
})

it('a type no group took is written nowhere, until a group takes it: the next publish reaches it', async () => {
  const [publisher, other] = [await open(), await open()]
  await publisher.publish([{ type: 'Unheard', data: 1 }])
  expect(await rowsOf('Unheard')).toEqual([])
  await subscribeGroup(other, 'listener', ['Unheard'])
  await publisher.publish([{ type: 'Unheard', data: 2 }])
  expect(await rowsOf('Unheard')).toEqual(['listener:1'])
})

it('a subscription written by hand (or by an older eventfold) counts as well', async () => {
  const publisher = await open()
  await subscribeGroup(publisher, 'known', ['Manual'])
  await publisher.publish([{ type: 'Manual', data: 1 }])
  await admin(`INSERT INTO "${schema}".transport_subscriptions (group_name, type) VALUES ('by-hand', 'Manual')`)
  await publisher.publish([{ type: 'Manual', data: 2 }])
  expect(await rowsOf('Manual')).toEqual(['by-hand:1', 'known:2'])

  await admin(`DELETE FROM "${schema}".transport_subscriptions WHERE group_name = 'by-hand'`)
  await publisher.publish([{ type: 'Manual', data: 3 }])
  expect(await rowsOf('Manual')).toEqual(['by-hand:1', 'known:3'])
})

it('a group subscribed both to everything and to the type gets each message once, however it is routed', async () => {
  const [publisher, other] = [await open(everythingSchema), await open(everythingSchema)]
  await subscribeGroup(other, 'both', ['Twice'])
  await subscribeGroup(other, 'both')
  // The first publish of a fresh copy is routed by the publisher, the one after a change by the database.
  await publisher.publish([{ type: 'Twice', data: 1 }])
  await admin(`INSERT INTO "${everythingSchema}".transport_subscriptions (group_name, type) VALUES ('unrelated', 'Other')`)
  await publisher.publish([{ type: 'Twice', data: 2 }])
  await publisher.publish([{ type: 'Twice', data: 3 }])
  expect(await rowsOf('Twice', everythingSchema)).toEqual(['both:3'])
})

it('with a current copy, publishing does not read the subscriptions at all', async () => {
  const publisher = await open()
  await subscribeGroup(publisher, 'steady', ['Steady'])
  await publisher.publish([{ type: 'Steady', data: 0 }])
  // Routing in the database would wait for this lock; routing by the copy never touches the table.
  const locker = new pg.Client({ connectionString: DATABASE_URL })
  await locker.connect()
  try {
    await locker.query('BEGIN')
    await locker.query(`LOCK TABLE "${schema}".transport_subscriptions IN ACCESS EXCLUSIVE MODE`)
    const published = publisher.publish([
      { type: 'Steady', data: 1 },
      { type: 'Steady', data: 2 },
    ])
    const outcome = await Promise.race([
      published.then(() => 'published'),
      new Promise((resolve) => setTimeout(() => resolve('blocked'), 2_000)),
    ])
    expect(outcome).toBe('published')
  } finally {
    await locker.query('ROLLBACK')
    await locker.end()
  }
  expect(await rowsOf('Steady')).toEqual(['steady:3'])
})

it('the version moves with every change to the subscriptions and with nothing else; a publish at an old version writes nothing', async () => {
  const before = await version()
  const transport = await open()
  await subscribeGroup(transport, 'versioned', ['V1', 'V2'])
  expect(await version()).toBe(before + 2n)
  // Subscribing again adds no row, so nothing changed.
  await subscribeGroup(transport, 'versioned', ['V1'])
  expect(await version()).toBe(before + 2n)
  await admin(`UPDATE "${schema}".transport_subscriptions SET type = 'V3' WHERE group_name = 'versioned' AND type = 'V2'`)
  expect(await version()).toBe(before + 3n)

  const wire = { id: 'm-1', type: 'V1', partitionKey: undefined, headers: '{}', contentType: undefined, body: Buffer.from('1') }
  const rows = [{ group: 'versioned', wire }]
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    expect((await client.query(sql.publishRouted(names, rows, before))).rowCount).toBe(0)
    expect((await client.query(sql.publishRouted(names, rows, before + 3n))).rowCount).toBe(1)
  } finally {
    await client.end()
  }
})
