import { afterAll, describe, expect, it } from 'vitest'
import { isEventfoldError } from '../../src/index.js'
import { createPostgresEventStore } from '../../src/postgres/index.js'
import { migrations } from '../../src/postgres/migrations.js'
import { admin, collect, DATABASE_URL, dropSchema, storeIn, uniqueSchema } from './helpers.js'

const schemas: string[] = []
const freshSchema = () => {
  const schema = uniqueSchema('migrations')
  schemas.push(schema)
  return schema
}

afterAll(async () => {
  for (const schema of schemas) await dropSchema(schema)
})

/** A schema as an earlier release left it: migrations up to `version` applied, no further. */
async function schemaAtVersion(quoted: string, version: number) {
  await admin(`CREATE SCHEMA ${quoted};
    CREATE TABLE ${quoted}.migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
  for (const migration of migrations.filter((m) => m.version <= version)) {
    await admin(migration.up(quoted))
    await admin(`INSERT INTO ${quoted}.migrations (version) VALUES ($1)`, [migration.version])
  }
}

const appliedVersions = async (schema: string) =>
  (await admin<{ version: number }>(`SELECT version FROM "${schema}".migrations ORDER BY version`)).map((row) => row.version)

describe('postgres migrations', () => {
  it('lets several stores migrate the same fresh schema at once', async () => {
    const schema = freshSchema()
    const stores = Array.from({ length: 5 }, () => storeIn(schema))
    try {
      await Promise.all(stores.map((store) => store.migrate()))
      expect(await appliedVersions(schema)).toEqual(migrations.map((m) => m.version))
      const result = await stores[0]!.appendToStream('s', [{ type: 'T', data: 1 }])
      expect(result).toEqual({ nextExpectedRevision: 0n, position: 1n })
    } finally {
      await Promise.all(stores.map((store) => store.close()))
    }
  })

  it('is a no-op when run again, keeping the data', async () => {
    const schema = freshSchema()
    const store = storeIn(schema)
    try {
      await store.migrate()
      await store.appendToStream('s', [{ type: 'T', data: { kept: true } }])
      await store.migrate()
      await store.migrate()
      expect(await appliedVersions(schema)).toEqual(migrations.map((m) => m.version))
      const events = await collect(store.readAll())
      expect(events.map((e) => e.data)).toEqual([{ kept: true }])
    } finally {
      await store.close()
    }
  })

  it('upgrades a version-2 schema holding events to version 3: the events stay, deletes forget snapshots', async () => {
    const schema = freshSchema()
    const quoted = `"${schema}"`
    // Version 2 as an earlier release left it: only migrations 1 and 2 applied.
    await schemaAtVersion(quoted, 2)
    const old = storeIn(schema)
    await old.appendToStream('s', [{ type: 'T', data: { before: true } }])
    await old.close()

    const store = storeIn(schema)
    try {
      await store.migrate()
      expect(await appliedVersions(schema)).toEqual(migrations.map((m) => m.version))
      expect((await collect(store.readStream('s'))).map((e) => e.data)).toEqual([{ before: true }])
      const snapshot = { state: { n: 1 }, revision: 0n, position: 1n, firstRevision: 0n, version: 1 }
      await store.snapshots?.save('s', 'n', snapshot)
      expect(await store.snapshots?.load('s', 'n')).toEqual(snapshot)
      await store.deleteStream('s', { expectedRevision: 0n })
      expect(await store.snapshots?.load('s', 'n')).toBeUndefined()
      const refused = await store.deleteStream('s', { expectedRevision: 5n }).catch((error: unknown) => error)
      expect(isEventfoldError(refused, 'WRONG_EXPECTED_REVISION')).toBe(true)
    } finally {
      await store.close()
    }
  })

  it('upgrades a version-6 schema to derived stream state: revisions and deletes carry over', async () => {
    const schema = freshSchema()
    const quoted = `"${schema}"`
    await schemaAtVersion(quoted, 6)
    // Written by version 6's functions, which keep a `streams` row per stream.
    const old = storeIn(schema)
    const two = [
      { type: 'T', data: 1 },
      { type: 'T', data: 2 },
    ]
    await old.appendToStream('live', [...two, { type: 'T', data: 3 }])
    await old.appendToStream('soft', two)
    await old.deleteStream('soft')
    await old.appendToStream('soft-again', two)
    await old.deleteStream('soft-again')
    await old.appendToStream('soft-again', [{ type: 'T', data: 3 }], { expectedRevision: 1n })
    await old.appendToStream('hard', two)
    await old.deleteStream('hard', { mode: 'hard' })
    await old.close()

    const store = storeIn(schema)
    const code = (promise: Promise<unknown>) =>
      promise.then(
        () => 'ok',
        (error: { code?: string }) => error.code,
      )
    try {
      await store.migrate()
      const statuses = await admin<{ status: string }>(`SELECT status FROM ${quoted}.streams ORDER BY stream_id`)
      // Only tombstones stay: 'soft-again' has events again, so its state comes from them.
      expect(statuses.map((row) => row.status)).toEqual(['hard_deleted', 'soft_deleted'])
      expect(await code(store.appendToStream('live', [{ type: 'T', data: 4 }], { expectedRevision: 1n }))).toBe(
        'WRONG_EXPECTED_REVISION',
      )
      expect(await store.appendToStream('live', [{ type: 'T', data: 4 }], { expectedRevision: 2n })).toMatchObject({
        nextExpectedRevision: 3n,
      })
      // A soft-deleted stream continues after its last revision.
      expect(await code(store.appendToStream('soft', two, { expectedRevision: 'no_stream' }))).toBe('WRONG_EXPECTED_REVISION')
      expect(await store.appendToStream('soft', two, { expectedRevision: 1n })).toMatchObject({ nextExpectedRevision: 3n })
      expect(await store.appendToStream('soft-again', two, { expectedRevision: 2n })).toMatchObject({
        nextExpectedRevision: 4n,
      })
      expect(await code(store.appendToStream('hard', two))).toBe('STREAM_DELETED')
      // The tombstone keeps the revision at the delete, so a second soft delete continues from there.
      await store.deleteStream('soft-again', { expectedRevision: 4n })
      expect(await store.appendToStream('soft-again', two, { expectedRevision: 4n })).toMatchObject({
        nextExpectedRevision: 6n,
      })
      expect((await collect(store.readStream('soft-again'))).map((e) => e.revision)).toEqual([5n, 6n])
    } finally {
      await store.close()
    }
  })

  it('lists versions strictly increasing', () => {
    const versions = migrations.map((m) => m.version)
    expect(versions).toEqual([...versions].sort((a, b) => a - b))
    expect(new Set(versions).size).toBe(versions.length)
  })

  it.each([['a"; drop table x; --'], [''], ['1abc'], ['with space'], ['dollar$'], ['pg_mine'], ['x'.repeat(64)], [42]])(
    'rejects the schema name %j with INVALID_ARGUMENT before touching the database',
    (schema) => {
      let thrown: unknown
      try {
        createPostgresEventStore({ connectionString: DATABASE_URL, schema: schema as string })
      } catch (error) {
        thrown = error
      }
      expect(isEventfoldError(thrown, 'INVALID_ARGUMENT')).toBe(true)
    },
  )

  it('accepts mixed case and keeps it exactly (the name is quoted)', async () => {
    const schema = `Ef_Mixed_${freshSchema().slice(-8)}`
    schemas.push(schema)
    const store = storeIn(schema)
    try {
      await store.migrate()
      const rows = await admin('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
      expect(rows).toHaveLength(1)
    } finally {
      await store.close()
    }
  })
})
