import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { createPostgresEventStore, type PostgresEventStoreOptions } from '../../src/postgres/index.js'

export const DATABASE_URL = process.env.EVENTFOLD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A fresh schema name per test file (and per call), so files can run in parallel. */
export const uniqueSchema = (file: string): string => `ef_${file}_${randomBytes(4).toString('hex')}`

/** The connection string tagged with an application_name, to find (and kill) this store's sessions. */
export const tagged = (applicationName: string): string => {
  const url = new URL(DATABASE_URL)
  url.searchParams.set('application_name', applicationName)
  return url.toString()
}

export function storeIn(schema: string, options: Partial<PostgresEventStoreOptions> = {}) {
  return createPostgresEventStore({ connectionString: DATABASE_URL, schema, ...options })
}

/** Runs one statement on a throwaway connection of its own. */
export async function admin<Row extends object = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    return (await client.query<Row>(text, values)).rows
  } finally {
    await client.end()
  }
}

export const dropSchema = (schema: string) => admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls until `check` holds, failing after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}
