import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import type { EventStore, StoreOptions } from '../../src/index.js'
import { createPostgresEventStore } from '../../src/postgres/index.js'
import { createSqliteEventStore } from '../../src/sqlite/index.js'

export const PG_URL = process.env.EVENTFOLD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
/** PostgreSQL here allows 100 connections; leave room for the store's own pool and the listener. */
export const RAW_PG_MAX_CONNECTIONS = 80

export type BackendName = 'postgres' | 'sqlite'

export interface RawRow {
  stream: string
  revision: number
  type: string
  data: string
}

/**
 * The baseline: the same rows written and read with plain SQL on a minimal events table
 * (unique (stream, revision)), no event store in between.
 */
export interface Raw {
  insert(rows: RawRow[]): Promise<void>
  readPage(after: number, limit: number): Promise<{ position: number }[]>
  count(): Promise<number>
  /** Highest revision of a stream, -1 if none. */
  lastRevision(stream: string): Promise<number>
}

export interface Bench {
  name: BackendName
  /**
   * Brings the database to the steady state a long-running store is in after a bulk load:
   * PostgreSQL vacuumed and analyzed (else autovacuum does it during the next measurement), the
   * SQLite WAL checkpointed into the file.
   */
  settle(): Promise<void>
  /** The PostgreSQL schema the store and the raw table live in. */
  schema?: string
  store: EventStore
  raw: Raw
  /** A second store on the same database, e.g. to subscribe from a separate connection pool. */
  openStore(options?: StoreOptions): Promise<EventStore>
  close(): Promise<void>
}

const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`

export async function openPostgres(rawConnections: number, storeOptions: StoreOptions = {}): Promise<Bench> {
  const schema = `ef_bench_${unique()}`
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  const store = createPostgresEventStore({ connectionString: PG_URL, schema, ...storeOptions })
  await store.migrate()
  const table = `"${schema}".raw_events`
  await admin.query(`CREATE TABLE ${table} (
    position bigserial PRIMARY KEY, stream_id text NOT NULL, revision bigint NOT NULL,
    type text NOT NULL, data json NOT NULL, UNIQUE (stream_id, revision))`)
  const pool = new pg.Pool({ connectionString: PG_URL, max: Math.min(rawConnections, RAW_PG_MAX_CONNECTIONS) })
  const others: EventStore[] = []
  const raw: Raw = {
    async insert(rows) {
      const values: unknown[] = []
      const tuples = rows.map((r, i) => {
        values.push(r.stream, r.revision, r.type, r.data)
        return `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4})`
      })
      await pool.query(`INSERT INTO ${table} (stream_id, revision, type, data) VALUES ${tuples.join(', ')}`, values)
    },
    async readPage(after, limit) {
      const { rows } = await pool.query(
        `SELECT position, stream_id, revision, type, data FROM ${table} WHERE position > $1 ORDER BY position LIMIT $2`,
        [after, limit],
      )
      return rows.map((r) => ({ ...r, position: Number(r.position) }))
    },
    async count() {
      return Number((await pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n)
    },
    async lastRevision(stream) {
      const { rows } = await pool.query(`SELECT coalesce(max(revision), -1) AS r FROM ${table} WHERE stream_id = $1`, [stream])
      return Number(rows[0].r)
    },
  }
  return {
    name: 'postgres',
    schema,
    store,
    raw,
    async openStore(options) {
      const other = createPostgresEventStore({ connectionString: PG_URL, schema, ...options })
      others.push(other)
      return other
    },
    async settle() {
      await admin.query(`VACUUM (ANALYZE) "${schema}".events, ${table}`)
    },
    async close() {
      await Promise.all([store.close(), pool.end(), ...others.map((o) => o.close())])
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`)
      await admin.end()
    },
  }
}

export async function openSqlite(storeOptions: StoreOptions = {}): Promise<Bench> {
  const dir = mkdtempSync(join(tmpdir(), 'eventfold-bench-'))
  const path = join(dir, 'events.db')
  const store = createSqliteEventStore({ path, ...storeOptions })
  await store.migrate()
  // Same file, same WAL mode and durability settings as the store, a connection of its own.
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.exec(`CREATE TABLE raw_events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL,
    revision INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, UNIQUE (stream_id, revision))`)
  const insertOne = db.prepare('INSERT INTO raw_events (stream_id, revision, type, data) VALUES (?, ?, ?, ?)')
  const insertMany = db.transaction((rows: RawRow[]) => {
    for (const r of rows) insertOne.run(r.stream, r.revision, r.type, r.data)
  })
  const page = db.prepare(
    'SELECT position, stream_id, revision, type, data FROM raw_events WHERE position > ? ORDER BY position LIMIT ?',
  )
  const lastRevision = db.prepare('SELECT coalesce(max(revision), -1) AS r FROM raw_events WHERE stream_id = ?')
  const others: EventStore[] = []
  return {
    name: 'sqlite',
    store,
    raw: {
      async insert(rows) {
        if (rows.length === 1) {
          const r = rows[0] as RawRow
          insertOne.run(r.stream, r.revision, r.type, r.data)
        } else insertMany(rows)
      },
      async readPage(after, limit) {
        return page.all(after, limit) as { position: number }[]
      },
      async count() {
        return (db.prepare('SELECT count(*) AS n FROM raw_events').get() as { n: number }).n
      },
      async lastRevision(stream) {
        return (lastRevision.get(stream) as { r: number }).r
      },
    },
    async openStore(options) {
      const other = createSqliteEventStore({ path, ...options })
      others.push(other)
      return other
    },
    async settle() {
      db.pragma('wal_checkpoint(TRUNCATE)')
    },
    async close() {
      await Promise.all([store.close(), ...others.map((o) => o.close())])
      db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export const openBackend = (name: BackendName, rawConnections = 32, options: StoreOptions = {}) =>
  name === 'postgres' ? openPostgres(rawConnections, options) : openSqlite(options)
