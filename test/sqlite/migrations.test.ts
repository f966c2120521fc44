import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, expect, it } from 'vitest'
import { createSqliteEventStore } from '../../src/sqlite/index.js'
import { migrations } from '../../src/sqlite/migrations.js'
import { collect } from '../conformance/helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'eventfold-migrate-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it('upgrades a version-1 file holding events to version 2: the events stay, deletes forget snapshots', async () => {
  const path = join(dir, 'v1.db')
  // Version 1 as an earlier release left it.
  const db = new Database(path)
  db.exec('CREATE TABLE eventfold_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)')
  db.exec((migrations[0] as { up: string }).up)
  db.prepare('INSERT INTO eventfold_migrations (version, applied_at) VALUES (1, 0)').run()
  db.prepare(
    `INSERT INTO events (event_id, stream_id, revision, type, data, metadata, recorded_at)
     VALUES ('0190a5b2-0000-7000-8000-000000000001', 's', 0, 'T', '{"before":true}', '{}', 0)`,
  ).run()
  db.prepare(`INSERT INTO streams (stream_id, revision, status) VALUES ('s', 0, 'live')`).run()
  db.close()

  const store = createSqliteEventStore({ path })
  try {
    await store.migrate()
    await store.migrate()
    expect((await collect(store.readStream('s'))).map((e) => e.data)).toEqual([{ before: true }])
    const snapshot = { state: { n: 1 }, revision: 0n, position: 1n, firstRevision: 0n, version: 1 }
    await store.snapshots?.save('s', 'n', snapshot)
    expect(await store.snapshots?.load('s', 'n')).toEqual(snapshot)
    await store.deleteStream('s', { mode: 'hard' })
    expect(await store.snapshots?.load('s', 'n')).toBeUndefined()
  } finally {
    await store.close()
  }
  const after = new Database(path)
  const versions = after.prepare('SELECT version FROM eventfold_migrations ORDER BY version').pluck().all()
  after.close()
  expect(versions).toEqual(migrations.map((m) => m.version))
})

it('upgrades a version-3 file to derived stream state: revisions and deletes carry over', async () => {
  const path = join(dir, 'v3.db')
  // Version 3 as an earlier release left it: a streams row for every stream ever written.
  const db = new Database(path)
  db.exec('CREATE TABLE eventfold_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)')
  for (const migration of migrations.filter((m) => m.version <= 3)) {
    db.exec(migration.up)
    db.prepare('INSERT INTO eventfold_migrations (version, applied_at) VALUES (?, 0)').run(migration.version)
  }
  const insert = db.prepare(
    `INSERT INTO events (event_id, stream_id, revision, type, data, metadata, recorded_at) VALUES (?, ?, ?, 'T', '1', '{}', 0)`,
  )
  let id = 0
  const event = (stream: string, revision: number) =>
    insert.run(`0190a5b2-0000-7000-8000-${String(++id).padStart(12, '0')}`, stream, revision)
  for (const revision of [0, 1, 2]) event('live', revision)
  event('soft-again', 2)
  const stream = db.prepare('INSERT INTO streams (stream_id, revision, status) VALUES (?, ?, ?)')
  stream.run('live', 2, 'live')
  stream.run('soft', 1, 'soft_deleted')
  stream.run('soft-again', 2, 'live')
  stream.run('hard', 1, 'hard_deleted')
  db.close()

  const store = createSqliteEventStore({ path })
  const code = (promise: Promise<unknown>) =>
    promise.then(
      () => 'ok',
      (error: { code?: string }) => error.code,
    )
  const two = [
    { type: 'T', data: 1 },
    { type: 'T', data: 2 },
  ]
  try {
    await store.migrate()
    expect(await code(store.appendToStream('live', two, { expectedRevision: 1n }))).toBe('WRONG_EXPECTED_REVISION')
    expect(await store.appendToStream('live', two, { expectedRevision: 2n })).toMatchObject({ nextExpectedRevision: 4n })
    // A soft-deleted stream continues after its last revision.
    expect(await code(store.appendToStream('soft', two, { expectedRevision: 'no_stream' }))).toBe('WRONG_EXPECTED_REVISION')
    expect(await store.appendToStream('soft', two, { expectedRevision: 1n })).toMatchObject({ nextExpectedRevision: 3n })
    expect(await store.appendToStream('soft-again', two, { expectedRevision: 2n })).toMatchObject({ nextExpectedRevision: 4n })
    expect(await code(store.appendToStream('hard', two))).toBe('STREAM_DELETED')
    // The tombstone keeps the revision at the delete, so appends after a second soft delete continue from it.
    await store.deleteStream('soft-again', { expectedRevision: 4n })
    expect(await store.appendToStream('soft-again', two, { expectedRevision: 4n })).toMatchObject({ nextExpectedRevision: 6n })
    expect((await collect(store.readStream('soft-again'))).map((e) => e.revision)).toEqual([5n, 6n])
  } finally {
    await store.close()
  }
  const after = new Database(path)
  const statuses = after.prepare('SELECT stream_id, status FROM streams ORDER BY stream_id').all()
  after.close()
  expect(statuses).toEqual([
    { stream_id: 'hard', status: 'hard_deleted' },
    { stream_id: 'soft', status: 'soft_deleted' },
    { stream_id: 'soft-again', status: 'soft_deleted' },
  ])
})
