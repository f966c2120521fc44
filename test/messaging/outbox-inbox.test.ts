import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import {
  createInMemoryTransport,
  type InMemoryTransport,
  type OutboxRelay,
  type OutgoingMessage,
  type ReceivedMessage,
} from '../../src/index.js'
import { createPostgresInbox, createPostgresOutbox } from '../../src/postgres/index.js'
import { createSqliteInbox, createSqliteOutbox } from '../../src/sqlite/index.js'
import { dropSchema, PG_URL } from '../conformance/adapters.js'
import { deferred, unique, waitFor } from './conformance/helpers.js'

const schema = `ef_outbox_${unique()}`
const dir = mkdtempSync(join(tmpdir(), 'eventfold-outbox-'))
const closers: (() => Promise<unknown> | unknown)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await dropSchema(schema)
})

/** An in-memory transport that also records every publish call, in order. */
function recordingTransport() {
  const transport = createInMemoryTransport()
  const published: OutgoingMessage[] = []
  let failuresLeft = 0
  const publish = transport.publish.bind(transport)
  Object.assign(transport, {
    publish: async (messages: readonly OutgoingMessage[]) => {
      if (failuresLeft > 0) {
        failuresLeft--
        throw Object.assign(new Error('broker unreachable'), { code: 'TRANSPORT_UNAVAILABLE' })
      }
      const result = await publish(messages)
      published.push(...messages)
      return result
    },
  })
  closers.push(() => transport.close())
  return {
    transport: transport as InMemoryTransport,
    published,
    failNext(n: number) {
      failuresLeft = n
    },
  }
}

const keyed = (count: number, keys: number) =>
  Array.from({ length: count }, (_, i) => ({ type: 'Tick', data: { n: i }, partitionKey: `k${i % keys}` }))

/** Per partition key, the order each message was first published in. */
function firstSeenByKey(published: OutgoingMessage[]): Map<string, number[]> {
  const seen = new Set<string>()
  const byKey = new Map<string, number[]>()
  for (const message of published) {
    if (seen.has(message.id as string)) continue
    seen.add(message.id as string)
    const list = byKey.get(message.partitionKey as string) ?? []
    list.push((message.data as { n: number }).n)
    byKey.set(message.partitionKey as string, list)
  }
  return byKey
}

describe('PostgreSQL outbox', () => {
  const open = async () => {
    const outbox = createPostgresOutbox({ connectionString: PG_URL, schema })
    await outbox.migrate()
    closers.push(() => outbox.close())
    const client = new pg.Client({ connectionString: PG_URL })
    await client.connect()
    closers.push(() => client.end())
    await client.query(`TRUNCATE "${schema}".outbox`)
    return { outbox, client }
  }

  it('publishes what a committed transaction enqueued, never what a rolled-back one did, keeping ids and conversation', async () => {
    const { outbox, client } = await open()
    await client.query('BEGIN')
    await outbox.enqueue(client, [{ type: 'Lost', data: {} }])
    await client.query('ROLLBACK')
    await client.query('BEGIN')
    const [id] = await outbox.enqueue(client, [{ type: 'Kept', data: { a: 1 }, partitionKey: 'o-1', correlationId: 'conv-1' }])
    await client.query('COMMIT')

    const { transport } = recordingTransport()
    const received: ReceivedMessage[] = []
    await transport.subscribe({ group: 'reader', handler: (m) => void received.push(m) })
    const relay = outbox.relay({ transport })
    await relay.start()
    await waitFor('the message', () => received.length === 1)
    expect(received[0]).toMatchObject({ id, type: 'Kept', data: { a: 1 }, partitionKey: 'o-1', correlationId: 'conv-1' })
    await relay.stop()
    expect(relay.stats()).toMatchObject({ published: 1, failures: 0 })
  })

  it('two relays at once publish every message, each partition key in enqueue order', async () => {
    const { outbox, client } = await open()
    const recorder = recordingTransport()
    for (let batch = 0; batch < 10; batch++) await outbox.enqueue(client, keyed(60, 30).slice(batch * 6, batch * 6 + 6))
    await outbox.enqueue(client, keyed(300, 30).slice(60))
    const relays = [
      outbox.relay({ transport: recorder.transport, batchSize: 7 }),
      outbox.relay({ transport: recorder.transport, batchSize: 5 }),
    ]
    await Promise.all(relays.map((r) => r.start()))
    await waitFor('every message', () => new Set(recorder.published.map((m) => m.id)).size === 300)
    await Promise.all(relays.map((r) => r.stop()))
    const byKey = firstSeenByKey(recorder.published)
    for (const [key, order] of byKey) expect(order, key).toEqual([...order].sort((a, b) => a - b))
    expect([...byKey.values()].flat()).toHaveLength(300)
    expect(relays.reduce((sum, r) => sum + r.stats().published, 0)).toBeGreaterThanOrEqual(300)
  })

  it('a relay holds only the keys of the batch it took: another relay publishes other keys meanwhile, before statistics know of the backlog', async () => {
    const { outbox, client } = await open()
    // No statistics of the burst (autovacuum has not analyzed it yet): the planner guesses a few rows.
    await outbox.enqueue(
      client,
      Array.from({ length: 300 }, (_, n) => ({ type: 'Tick', data: { n }, partitionKey: 'a' })),
    )
    await outbox.enqueue(
      client,
      Array.from({ length: 10 }, (_, n) => ({ type: 'Tick', data: { n }, partitionKey: 'b' })),
    )
    const stuck = recordingTransport()
    const unblock = deferred()
    const publish = stuck.transport.publish.bind(stuck.transport)
    Object.assign(stuck.transport, {
      publish: async (messages: readonly OutgoingMessage[]) => {
        await unblock.promise
        return publish(messages)
      },
    })
    const free = recordingTransport()
    const holding = outbox.relay({ transport: stuck.transport, batchSize: 100 })
    await holding.start()
    await waitFor('the first relay to hold a batch of key a', async () => {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_locks WHERE locktype = $1', ['advisory'])
      return rows[0].n > 0
    })
    const other = outbox.relay({ transport: free.transport, batchSize: 100 })
    await other.start()
    await waitFor('key b from the other relay', () => free.published.length === 10)
    expect(firstSeenByKey(free.published).get('b')).toEqual(Array.from({ length: 10 }, (_, n) => n))
    unblock.resolve()
    await waitFor('every message of key a', () => stuck.published.length + free.published.length === 310)
    await Promise.all([holding.stop(), other.stop()])
    const a = firstSeenByKey([...stuck.published, ...free.published].filter((m) => m.partitionKey === 'a'))
    expect(new Set(a.get('a'))).toEqual(new Set(Array.from({ length: 300 }, (_, n) => n)))
  })

  it('keeps unsent messages through publish failures and retries them', async () => {
    const { outbox, client } = await open()
    const recorder = recordingTransport()
    await outbox.enqueue(client, keyed(5, 1))
    recorder.failNext(2)
    const relay = outbox.relay({ transport: recorder.transport })
    await relay.start()
    await waitFor('the messages', () => recorder.published.length === 5)
    await relay.stop()
    expect(relay.stats().failures).toBe(2)
    expect(firstSeenByKey(recorder.published).get('k0')).toEqual([0, 1, 2, 3, 4])
  })

  it('deletes sent messages once they are older than the retention', async () => {
    const { outbox, client } = await open()
    const recorder = recordingTransport()
    await outbox.enqueue(client, keyed(3, 1))
    const relay = outbox.relay({ transport: recorder.transport, retentionMs: 1 })
    await relay.start()
    await waitFor('the messages', () => recorder.published.length === 3)
    await relay.stop()
    await new Promise((resolve) => setTimeout(resolve, 10))
    // A second relay cleans up when it starts.
    const cleaner = outbox.relay({ transport: recorder.transport, retentionMs: 1 })
    await cleaner.start()
    await waitFor('the cleanup', () => cleaner.stats().cleanedUp === 3)
    await cleaner.stop()
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".outbox`)
    expect(rows[0].n).toBe(0)
  })

  it('refuses bad input with INVALID_ARGUMENT', async () => {
    const { outbox, client } = await open()
    await expect(outbox.enqueue(client, [])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(outbox.enqueue(client, [{ type: '', data: 1 }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(() => outbox.relay({ transport: {} as never })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => createPostgresOutbox({ connectionString: PG_URL, schema: 'bad"name' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    )
  })
})

describe('PostgreSQL inbox', () => {
  const open = async () => {
    const inbox = createPostgresInbox({ connectionString: PG_URL, schema, retentionMs: 50 })
    await inbox.migrate()
    closers.push(() => inbox.close())
    return inbox
  }

  it('runs the work once per message and consumer, even for copies handled at the same moment', async () => {
    const inbox = await open()
    const id = `m-${unique()}`
    let runs = 0
    const work = async (client: pg.PoolClient) => {
      runs++
      await client.query('SELECT pg_sleep(0.05)')
    }
    const outcomes = await Promise.all([inbox.handle('billing', { id }, work), inbox.handle('billing', { id }, work)])
    expect(runs).toBe(1)
    expect(outcomes.map((o) => o.duplicate).sort()).toEqual([false, true])
    expect((await inbox.handle('shipping', { id }, work)).duplicate).toBe(false)
    expect(runs).toBe(2)
  })

  it('records nothing when the work fails, so the redelivery runs it again', async () => {
    const inbox = await open()
    const id = `m-${unique()}`
    await expect(
      inbox.handle('billing', { id }, async () => {
        throw new Error('not yet')
      }),
    ).rejects.toThrow('not yet')
    let ran = false
    await inbox.handle('billing', { id }, async () => {
      ran = true
    })
    expect(ran).toBe(true)
  })

  it('forgets ids older than the retention on cleanup', async () => {
    const inbox = await open()
    const id = `m-${unique()}`
    await inbox.handle('old', { id }, async () => {})
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(await inbox.cleanup()).toBeGreaterThanOrEqual(1)
    expect((await inbox.handle('old', { id }, async () => {})).duplicate).toBe(false)
  })
})

describe('SQLite outbox and inbox', () => {
  const open = () => {
    const db = new Database(join(dir, `${unique()}.db`))
    db.pragma('journal_mode = WAL')
    closers.push(() => db.close())
    const outbox = createSqliteOutbox({ db, leaseMs: 500 })
    outbox.migrate()
    return { db, outbox }
  }

  it('publishes what committed, in order, and one relay holds the outbox at a time', async () => {
    const { db, outbox } = open()
    db.exec('CREATE TABLE orders (id TEXT PRIMARY KEY)')
    const place = db.transaction((id: string, fail: boolean) => {
      db.prepare('INSERT INTO orders (id) VALUES (?)').run(id)
      outbox.enqueue([{ type: 'OrderPlaced', data: { id }, partitionKey: id }])
      if (fail) throw new Error('rolled back')
    })
    place('o-1', false)
    expect(() => place('o-2', true)).toThrow('rolled back')
    outbox.enqueue(keyed(20, 2))
    const recorder = recordingTransport()
    const relays: OutboxRelay[] = [
      outbox.relay({ transport: recorder.transport, batchSize: 3 }),
      outbox.relay({ transport: recorder.transport }),
    ]
    await Promise.all(relays.map((r) => r.start()))
    await waitFor('every message', () => new Set(recorder.published.map((m) => m.id)).size === 21)
    await Promise.all(relays.map((r) => r.stop()))
    expect(recorder.published.filter((m) => m.type === 'OrderPlaced').map((m) => (m.data as { id: string }).id)).toEqual(['o-1'])
    expect(firstSeenByKey(recorder.published.filter((m) => m.type === 'Tick')).get('k1')).toEqual([
      1, 3, 5, 7, 9, 11, 13, 15, 17, 19,
    ])
    // The lease: only one of them published.
    expect(relays.filter((r) => r.stats().published > 0)).toHaveLength(1)
  })

  it('inbox: work once per message, nothing recorded when it throws', () => {
    const { db } = open()
    const inbox = createSqliteInbox({ db })
    inbox.migrate()
    db.exec('CREATE TABLE totals (id TEXT PRIMARY KEY, n INTEGER NOT NULL)')
    const add = (tx: Database.Database) =>
      tx.prepare('INSERT INTO totals VALUES (?, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1').run('a')
    expect(inbox.handle('c', { id: 'm1' }, add).duplicate).toBe(false)
    expect(inbox.handle('c', { id: 'm1' }, add).duplicate).toBe(true)
    expect(() =>
      inbox.handle('c', { id: 'm2' }, (tx) => {
        add(tx)
        throw new Error('fails after writing')
      }),
    ).toThrow('fails after writing')
    expect(inbox.handle('c', { id: 'm2' }, add).duplicate).toBe(false)
    expect(db.prepare('SELECT n FROM totals').get()).toEqual({ n: 2 })
  })
})
