import type pg from 'pg'
import type { Logger } from '../core/types.js'
import { appendFunctionV1 } from './append-function.js'
import { appendFunctionV2 } from './append-function-v2.js'
import type { SchemaNames } from './identifiers.js'
import { deleteFunctionV1, tablesV1 } from './schema-v1.js'
import { snapshotsV3 } from './schema-v3.js'
import { processingV4 } from './schema-v4.js'
import { transportV5 } from './schema-v5.js'
import { messagingV6 } from './schema-v6.js'
import { derivedStreamsV7 } from './schema-v7.js'
import { heldKeysV8 } from './schema-v8.js'
import { routingVersionV9 } from './schema-v9.js'
import { groupKeyV10 } from './schema-v10.js'
import { optionalMessageIdV11 } from './schema-v11.js'

export interface Migration {
  version: number
  /** SQL for the quoted schema name; runs inside the migration transaction. */
  up: (schema: string) => string
}

/** Append only: a released version is never edited, a change is a new version. */
export const migrations: readonly Migration[] = [
  { version: 1, up: (s) => tablesV1(s) + deleteFunctionV1(s) + appendFunctionV1(s) },
  { version: 2, up: appendFunctionV2 },
  { version: 3, up: snapshotsV3 },
  { version: 4, up: processingV4 },
  { version: 5, up: transportV5 },
  { version: 6, up: messagingV6 },
  { version: 7, up: derivedStreamsV7 },
  { version: 8, up: heldKeysV8 },
  { version: 9, up: routingVersionV9 },
  { version: 10, up: groupKeyV10 },
  { version: 11, up: optionalMessageIdV11 },
]

/**
 * Brings the schema up to the latest version in one transaction. Everything, CREATE SCHEMA
 * included, runs under a transaction-scoped advisory lock: two processes starting at once would
 * otherwise both see version 0 and race on CREATE, and one would fail.
 */
export async function migrate(pool: pg.Pool, names: SchemaNames, logger: Logger | undefined): Promise<void> {
  const s = names.quoted
  const client = await pool.connect()
  // A checked-out client with no listener would crash the process if its connection dropped now.
  const onError = (error: Error) => logger?.warn?.('eventfold: connection lost while migrating', { error })
  client.on('error', onError)
  let failure: unknown
  try {
    await client.query('BEGIN')
    await client.query({ text: 'SELECT pg_advisory_xact_lock($1)', values: [names.migrateLockKey] })
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`)
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    )
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${s}.migrations`)
    const applied = new Set(rows.map((row) => Number(row.version)))
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue
      await client.query(migration.up(s))
      await client.query({ text: `INSERT INTO ${s}.migrations (version) VALUES ($1)`, values: [migration.version] })
      logger?.debug?.('eventfold: applied migration', { schema: names.name, version: migration.version })
    }
    await client.query('COMMIT')
  } catch (error) {
    failure = error
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.off('error', onError)
    // A client whose transaction failed may be in a broken state: destroy it rather than reuse it.
    client.release(failure instanceof Error ? failure : undefined)
  }
}
