import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type Database from 'better-sqlite3'
import type pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { createAsyncProjection, defineProjection, type RecordedEvent } from '../../src/index.js'
import { createPostgresEventStore } from '../../src/postgres/index.js'
import { createSqliteEventStore } from '../../src/sqlite/index.js'
import { dropSchema, PG_URL } from '../conformance/adapters.js'

const dir = mkdtempSync(join(tmpdir(), 'eventfold-rm-'))
const schema = `ef_rm_${Date.now().toString(36)}`
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await dropSchema(schema)
})

const events = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'Sold', data: { qty: i + 1 } }))

describe('projections into ordinary tables, through the transaction they are handed', () => {
  it('SQLite: rows and checkpoint commit together; a failed batch leaves no row behind', async () => {
    const store = createSqliteEventStore({ path: join(dir, 'rm.db') })
    await store.migrate()
    let failFirst = true
    const projection = defineProjection<Database.Database>({
      name: 'sales',
      setup: (db) => void db.exec('CREATE TABLE IF NOT EXISTS sales (stream TEXT PRIMARY KEY, total INTEGER NOT NULL)'),
      handle(batch: RecordedEvent[], { tx }) {
        const add = tx.prepare(
          'INSERT INTO sales (stream, total) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET total = total + excluded.total',
        )
        for (const event of batch) add.run(event.streamId, (event.data as { qty: number }).qty)
        if (failFirst && batch.length > 1) {
          failFirst = false
          throw new Error('after the writes')
        }
      },
    })
    await store.appendToStream('shop-1', events(4))
    const { position } = await store.appendToStream('shop-2', events(2))
    const sales = createAsyncProjection({ store, projection })
    await sales.start()
    await sales.waitFor(position)
    await sales.stop()
    const db = (await import('better-sqlite3')).default(join(dir, 'rm.db'))
    expect(db.prepare('SELECT stream, total FROM sales ORDER BY stream').all()).toEqual([
      { stream: 'shop-1', total: 10 },
      { stream: 'shop-2', total: 3 },
    ])
    db.close()
    await store.close()
  })

  it('PostgreSQL: rows and checkpoint commit together; a failed batch leaves no row behind', async () => {
    const store = createPostgresEventStore({ connectionString: PG_URL, schema })
    await store.migrate()
    const table = `"${schema}".sales`
    let failFirst = true
    const projection = defineProjection<pg.PoolClient>({
      name: 'sales',
      setup: async (client) => {
        await client.query(`CREATE TABLE IF NOT EXISTS ${table} (stream text PRIMARY KEY, total int NOT NULL)`)
      },
      async handle(batch: RecordedEvent[], { tx }) {
        await tx.query(
          `INSERT INTO ${table} (stream, total) SELECT * FROM unnest($1::text[], $2::int[])
           ON CONFLICT (stream) DO UPDATE SET total = ${table}.total + excluded.total`,
          [batch.map((e) => e.streamId), batch.map((e) => (e.data as { qty: number }).qty)],
        )
        if (failFirst && batch.length > 1) {
          failFirst = false
          throw new Error('after the writes')
        }
      },
    })
    await store.appendToStream('shop-1', events(4))
    await store.appendToStream('shop-3', events(1))
    const { position } = await store.appendToStream('shop-2', events(2))
    const sales = createAsyncProjection({ store, projection })
    await sales.start()
    await sales.waitFor(position)
    await sales.stop()
    await store.close()
    const { default: pgModule } = await import('pg')
    const client = new pgModule.Client({ connectionString: PG_URL })
    await client.connect()
    const { rows } = await client.query(`SELECT stream, total FROM ${table} ORDER BY stream`)
    await client.end()
    expect(rows).toEqual([
      { stream: 'shop-1', total: 10 },
      { stream: 'shop-2', total: 3 },
      { stream: 'shop-3', total: 1 },
    ])
  })
})
