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
