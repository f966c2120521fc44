import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { EventStore, StoreOptions } from '../../src/index.js'
import { createInMemoryEventStore } from '../../src/index.js'

export const PG_URL = process.env.EVENTFOLD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface StoreUnderTest {
  store: EventStore
  /** Closes the store and removes everything it created. */
  cleanup(): Promise<void>
}

export type StoreFactory = (options?: StoreOptions) => Promise<StoreUnderTest>

/**
 * Every adapter, by name. A new adapter is a compile error here until it has a factory, and then
 * it runs the whole conformance suite: no adapter skips part of it.
 */
export type AdapterName = 'memory' | 'sqlite' | 'postgres'

const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`

export const adapters: Record<AdapterName, StoreFactory> = {
  async memory(options) {
    const store = createInMemoryEventStore(options)
    await store.migrate()
    return { store, cleanup: () => store.close() }
  },

  async sqlite(options) {
    const dir = mkdtempSync(join(tmpdir(), 'eventfold-'))
    // Loaded on demand: a test file of one adapter never loads another adapter's driver.
    const { createSqliteEventStore } = await import('../../src/sqlite/index.js')
    const store = createSqliteEventStore({ ...options, path: join(dir, 'events.db') })
    await store.migrate()
    return {
      store,
      async cleanup() {
        await store.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  },

  async postgres(options) {
    const schema = `ef_conf_${unique()}`
    const { createPostgresEventStore } = await import('../../src/postgres/index.js')
    const store = createPostgresEventStore({ ...options, connectionString: PG_URL, schema })
    await store.migrate()
    return {
      store,
      async cleanup() {
        await store.close()
        await dropSchema(schema)
      },
    }
  },
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    // The name comes from the test itself (letters, digits, underscore); quoting keeps it an identifier.
    await client.query(`DROP SCHEMA IF EXISTS "${schema.replaceAll('"', '""')}" CASCADE`)
  } finally {
    await client.end()
  }
}
