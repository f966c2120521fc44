import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { isEventfoldError } from '../../src/index.js'
import { createSqliteEventStore } from '../../src/sqlite/index.js'
import { collect } from '../conformance/helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'eventfold-options-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it.each([[0], [-5], [1.5], ['32'], [Number.NaN]])('refuses cacheSizeMiB %j with INVALID_ARGUMENT', (cacheSizeMiB) => {
  let thrown: unknown
  try {
    createSqliteEventStore({ path: join(dir, 'refused.db'), cacheSizeMiB: cacheSizeMiB as number })
  } catch (error) {
    thrown = error
  }
  expect(isEventfoldError(thrown, 'INVALID_ARGUMENT')).toBe(true)
})

it('works with a small page cache', async () => {
  const store = createSqliteEventStore({ path: join(dir, 'small.db'), cacheSizeMiB: 1 })
  try {
    await store.migrate()
    await store.appendToStream('s', [{ type: 'T', data: { n: 1 } }])
    expect((await collect(store.readStream('s'))).map((e) => e.data)).toEqual([{ n: 1 }])
  } finally {
    await store.close()
  }
})
