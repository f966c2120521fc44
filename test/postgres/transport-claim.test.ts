import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createMessage } from '../../src/index.js'
import { schemaNames } from '../../src/postgres/identifiers.js'
import { createPostgresTransport, type PostgresTransport } from '../../src/postgres/index.js'
import { typeParsers } from '../../src/postgres/rows.js'
import * as sql from '../../src/postgres/transport/sql.js'
import { toStoredWire } from '../../src/postgres/transport/wire.js'
import { sleep, waitFor } from '../messaging/conformance/helpers.js'
import { DATABASE_URL, dropSchema, uniqueSchema } from './helpers.js'

// The claim statement on its own, driven step by step: what it may hand out, whatever the interleaving.
const schema = uniqueSchema('transport_claim')
const names = schemaNames(schema)
const pool = new pg.Pool({ connectionString: DATABASE_URL, types: typeParsers, max: 12 })
let transport: PostgresTransport
let group = ''

const run = async <Row extends object = Record<string, unknown>>(query: sql.Query, client: pg.ClientBase | pg.Pool = pool) =>
  (await client.query<Row>(query)).rows

beforeAll(async () => {
  // Creating the transport applies the migrations; the test then talks SQL to its tables.
  transport = await createPostgresTransport({ connectionString: DATABASE_URL, schema })
})

afterAll(async () => {
  await transport.close()
  await pool.end()
  await dropSchema(schema)
})

beforeEach(async () => {
  group = `g-${randomUUID().slice(0, 8)}`
  await run(sql.subscribe(names, group, undefined))
})

/** Publishes `label`s as messages (key optional), returning nothing: rows are found again by label. */
async function publish(items: [label: string, key?: string][], client: pg.ClientBase | pg.Pool = pool) {
  const wires = items.map(([label, key]) => toStoredWire(createMessage({ type: 'T', data: label, partitionKey: key }, 'test')))
  await run(sql.publish(names, wires), client)
}

interface Claimed {
  label: string
  claim: sql.Claim
}

async function claim(owner: string, limit = 100, lockMs = 60_000): Promise<Claimed[]> {
  const rows = await run<sql.DeliveryRow>(sql.claim(names, group, owner, limit, lockMs))
  return rows
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((row) => ({
      label: JSON.parse(Buffer.from(row.body, 'hex').toString()) as string,
      claim: { group, id: row.id, owner, attempt: Number(row.attempt) },
    }))
}

const labels = (claimed: Claimed[]) => claimed.map((c) => c.label)
const find = (claimed: Claimed[], label: string) => claimed.find((c) => c.label === label)!.claim

describe('postgres transport: the claim', () => {
  it('hands out the head of each key and every keyless row; the next of a key only once the head is done', async () => {
    await publish([['a1', 'a'], ['a2', 'a'], ['b1', 'b'], ['x'], ['a3', 'a'], ['y']])
    const first = await claim('m1')
    expect(labels(first)).toEqual(['a1', 'b1', 'x', 'y'])
    expect(first.every((c) => c.claim.attempt === 1)).toBe(true)
    // Another member: a1 in hand holds a2 and a3 back.
    expect(await claim('m2')).toEqual([])
    const a1 = find(first, 'a1')
    await run(sql.ack(names, a1.group, a1.owner, [a1]))
    expect(labels(await claim('m2'))).toEqual(['a2'])
  })

  it('a retry waiting out its delay holds back the later rows of its key, not other keys', async () => {
    await publish([
      ['a1', 'a'],
      ['a2', 'a'],
      ['b1', 'b'],
    ])
    const [a1] = await claim('m1', 1)
    expect(a1?.label).toBe('a1')
    await run(sql.retry(names, a1!.claim, 60_000))
    expect(labels(await claim('m1'))).toEqual(['b1'])
    expect(await claim('m2')).toEqual([])
  })

  it('a lapsed claim goes to the next member with the attempt counted; the old owner’s late settle does nothing', async () => {
    await publish([['a1', 'a']])
    const [dead] = await claim('dies', 10, 1)
    let taken: Claimed[] = []
    await waitFor('the claim to lapse', async () => {
      taken = await claim('survivor')
      return taken.length === 1
    })
    expect(taken[0]).toMatchObject({ label: 'a1', claim: { attempt: 2 } })
    await run(sql.ack(names, group, dead!.claim.owner, [dead!.claim]))
    await run(sql.bury(names, dead!.claim, { id: 'x', error: '{}', attempts: 1, origin: 'o' }))
    const [row] = await run<{ n: bigint }>({
      text: `SELECT count(*) AS n FROM ${names.quoted}.transport_deliveries WHERE group_name = $1 AND owner = 'survivor'`,
      values: [group],
    })
    expect(row?.n).toBe(1n)
    expect(
      await run({ text: `SELECT 1 FROM ${names.quoted}.transport_dead_letters WHERE group_name = $1`, values: [group] }),
    ).toEqual([])
  })

  it('an earlier row of a key that commits after a later one was taken waits for it (concurrent publishers)', async () => {
    const slow = await pool.connect()
    try {
      await slow.query('BEGIN')
      await publish([['early', 'k']], slow) // draws the smaller id, commits last
      await publish([['late', 'k']])
      const [late] = await claim('m1')
      expect(late?.label).toBe('late')
      await slow.query('COMMIT')
      // Order between two concurrent publishers is not defined, but one key is never in two hands.
      expect(await claim('m2')).toEqual([])
      await run(sql.ack(names, group, late!.claim.owner, [late!.claim]))
      expect(labels(await claim('m2'))).toEqual(['early'])
    } finally {
      slow.release()
    }
  })

  it('competing claims at once never take one row twice, nor two rows of one key', async () => {
    const keys = 12
    await publish(Array.from({ length: keys * 4 }, (_, i): [string, string] => [`r${i}`, `k${i % keys}`]))
    const rounds = await Promise.all(Array.from({ length: 10 }, (_, m) => claim(`m${m}`, 3)))
    const all = rounds.flat()
    const keyOf = (label: string) => `k${Number(label.slice(1)) % keys}`
    expect(new Set(all.map((c) => c.label)).size).toBe(all.length)
    expect(new Set(all.map((c) => keyOf(c.label))).size).toBe(all.length)
    // Each taken row is its key's head: the first `keys` rows.
    expect(all.every((c) => Number(c.label.slice(1)) < keys)).toBe(true)
    expect(all.length).toBeGreaterThan(0)
  })
})

describe('postgres transport: notifications', () => {
  /** What the publisher does: insert in one statement, then notify the groups it returned. */
  async function publishAndNotify(type: string): Promise<string[]> {
    const rows = await run<{ group_name: string }>(sql.publish(names, [toStoredWire(createMessage({ type, data: 1 }, 'test'))]))
    const groups = rows.map((row) => row.group_name)
    if (groups.length > 0) await run(sql.notify(names, groups))
    return groups
  }

  it('name the groups that got work, or none when the names would not fit', async () => {
    const listener = new pg.Client({ connectionString: DATABASE_URL })
    const payloads: string[] = []
    listener.on('notification', (n) => void payloads.push(n.payload ?? ''))
    await listener.connect()
    try {
      // Only this test's groups: the earlier tests' groups take every type.
      await run({ text: `DELETE FROM ${names.quoted}.transport_subscriptions WHERE group_name <> $1`, values: [group] })
      await listener.query(`LISTEN "${names.messagesChannel}"`)
      const other = `${group}-other`
      await run(sql.subscribe(names, other, ['OnlyOther']))
      await publish([['a1', 'a']]) // only the test's own group takes every type
      await run(sql.notify(names, [group]))
      expect((await publishAndNotify('OnlyOther')).sort()).toEqual([group, other].sort())
      expect(await publishAndNotify('Nobody')).toEqual([group])
      const many = Array.from({ length: 80 }, (_, i) => `${'m'.repeat(95)}-${i}`)
      for (const g of many) await run(sql.subscribe(names, g, ['Crowd']))
      expect(await publishAndNotify('Crowd')).toHaveLength(81)
      const [a1] = await claim('m1')
      await run(sql.release(names, a1!.claim, true))
      await waitFor('five notifications', () => payloads.length >= 5)
      // 'Nobody' went to the test's own group only (it takes every type); the crowd's names do not fit.
      expect(payloads).toEqual([group, [group, other].sort().join(','), group, '', group])
    } finally {
      await listener.end()
    }
  })

  it('wake a consumer of another process soon after a publish commits, long before its next poll', async () => {
    const options = { connectionString: DATABASE_URL, schema, pollIntervalMs: 600_000 }
    const [publisher, consumer] = [await createPostgresTransport(options), await createPostgresTransport(options)]
    try {
      const got: unknown[] = []
      // The first claim happens at subscribe; the message is published after it, so only a notification can bring it.
      await consumer.subscribe({ group: `${group}-woken`, handler: (m) => void got.push(m.data) })
      await sleep(100)
      // Concurrent publishes share notifications; each one's message still arrives.
      await Promise.all(Array.from({ length: 20 }, (_, i) => publisher.publish([{ type: 'Wake', data: i }])))
      await waitFor('every message, woken by notifications', () => got.length === 20)
      expect([...got].sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 20 }, (_, i) => i))
    } finally {
      await Promise.all([publisher.close(), consumer.close()])
    }
  })
})
