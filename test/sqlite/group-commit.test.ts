import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, expect, it } from 'vitest'
import { isEventfoldError } from '../../src/index.js'
import { createSqliteEventStore } from '../../src/sqlite/index.js'
import { collect } from '../conformance/helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'eventfold-gc-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error) => (isEventfoldError(error) ? error.code : `unexpected: ${String(error)}`),
  )

it('commits appends made in one tick together, failing only the ones that break a rule', async () => {
  const path = join(dir, 'gc.db')
  const store = createSqliteEventStore({ path })
  await store.migrate()
  await store.appendToStream('existing', [{ type: 'T', data: 0 }])
  // Count commits from outside: SQLite's data_version moves once per transaction another connection commits.
  const observer = new Database(path, { readonly: true })
  const version = () => observer.pragma('data_version', { simple: true }) as number
  const before = version()
  const outcomes = await Promise.all([
    ...Array.from({ length: 50 }, (_, i) => codeOf(store.appendToStream(`fresh-${i}`, [{ type: 'T', data: i }]))),
    codeOf(store.appendToStream('existing', [{ type: 'T', data: 1 }], { expectedRevision: 'no_stream' })),
    codeOf(store.appendToStream('existing', [{ type: 'T', data: 2 }], { expectedRevision: 0n })),
    codeOf(store.appendToStream('existing', [{ type: 'T', data: 3 }], { expectedRevision: 0n })),
  ])
  expect(version() - before).toBe(1)
  expect(outcomes.slice(0, 50).every((o) => o === 'ok')).toBe(true)
  expect(outcomes.slice(50)).toEqual(['WRONG_EXPECTED_REVISION', 'ok', 'WRONG_EXPECTED_REVISION'])
  expect((await collect(store.readStream('existing'))).map((e) => e.data)).toEqual([0, 2])
  expect(await collect(store.readAll())).toHaveLength(52)
  observer.close()
  await store.close()
})

it('isolates a request that breaks the whole transaction: the others still commit', async () => {
  const path = join(dir, 'isolate.db')
  const store = createSqliteEventStore({ path })
  await store.migrate()
  // A database-level failure the rules cannot foresee: a trigger refusing one stream's insert.
  const db = new Database(path)
  db.exec(
    `CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.stream_id = 'refused' BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END`,
  )
  db.close()
  const outcomes = await Promise.all(
    ['a', 'refused', 'b'].map((stream) => codeOf(store.appendToStream(stream, [{ type: 'T', data: stream }]))),
  )
  expect(outcomes[0]).toBe('ok')
  expect(outcomes[1]).toMatch(/refused by trigger/)
  expect(outcomes[2]).toBe('ok')
  expect((await collect(store.readAll())).map((e) => e.streamId)).toEqual(['a', 'b'])
  await store.close()
})
