import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createSqliteEventStore } from '../../src/sqlite/index.js'
import { prepareStatements } from '../../src/sqlite/sql.js'

const dir = mkdtempSync(join(tmpdir(), 'eventfold-plans-'))
const path = join(dir, 'plans.db')
let db: Database.Database

beforeAll(async () => {
  const store = createSqliteEventStore({ path })
  await store.migrate()
  for (let s = 0; s < 200; s++)
    await store.appendToStream(
      `stream-${s}`,
      [1, 2, 3].map((n) => ({ type: 'T', data: n })),
    )
  await store.close()
  db = new Database(path)
  db.exec('ANALYZE')
})

afterAll(() => {
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The plan SQLite picks for the store's own prepared statement, with representative arguments. */
function plan(name: keyof ReturnType<typeof prepareStatements>, ...args: unknown[]): string {
  const source = (prepareStatements(db)[name] as unknown as { source: string }).source
  const rows = db.prepare(`EXPLAIN QUERY PLAN ${source}`).all(...args) as { detail: string }[]
  return rows.map((r) => r.detail).join(' | ')
}

it.each([
  [
    'readAll',
    plan.bind(null, 'readAll', 300, null, null, null, null, null, 1000),
    /SEARCH events USING INTEGER PRIMARY KEY \(rowid>\?\)/,
  ],
  [
    'readAll filtered',
    plan.bind(null, 'readAll', 300, '["T"]', '["T"]', 's', 's', 's', 1000),
    /SEARCH events USING INTEGER PRIMARY KEY \(rowid>\?\)/,
  ],
  [
    'readStream forwards',
    plan.bind(null, 'readStreamForwards', 'stream-7', 0, 1000),
    /SEARCH events USING INDEX \S+ \(stream_id=\? AND revision>\?\)/,
  ],
  [
    'readStream backwards',
    plan.bind(null, 'readStreamBackwards', 'stream-7', 9, 1000),
    /SEARCH events USING INDEX \S+ \(stream_id=\? AND revision<\?\)/,
  ],
  ['streamHead', plan.bind(null, 'streamHead', 'stream-7'), /SEARCH events USING (COVERING )?INDEX \S+ \(stream_id=\?\)/],
  ['tombstone', plan.bind(null, 'tombstone', 'stream-7'), /SEARCH streams USING PRIMARY KEY \(stream_id=\?\)/],
  [
    'event by id',
    plan.bind(null, 'eventById', '0190a5b2-0000-7000-8000-000000000001'),
    /SEARCH events USING INDEX \S+ \(event_id=\?\)/,
  ],
  [
    'load a snapshot',
    plan.bind(null, 'loadSnapshot', 'stream-7', 'account'),
    /SEARCH snapshots USING PRIMARY KEY \(stream_id=\? AND name=\?\)/,
  ],
  ['forget snapshots', plan.bind(null, 'deleteSnapshots', 'stream-7'), /SEARCH snapshots USING PRIMARY KEY \(stream_id=\?\)/],
])('%s uses its index, never a scan of the table', (_, explain, expected) => {
  const detail = explain()
  expect(detail).toMatch(expected)
  expect(detail).not.toMatch(/SCAN (events|streams|snapshots)\b/)
})
