import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, expect, it, vi } from 'vitest'
import type { RecordedEvent } from '../../src/index.js'
import { createSqliteEventStore } from '../../src/sqlite/index.js'
import { collect, expectWellOrdered } from '../conformance/helpers.js'

const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'eventfold-mp-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

it('keeps expected-revision checks atomic across processes sharing one file, and wakes a subscriber in another', async () => {
  const path = join(dir, 'shared.db')
  const observer = createSqliteEventStore({ path, pollIntervalMs: 20 })
  await observer.migrate()
  const seen: RecordedEvent[] = []
  // The writers' start barrier writes to 'ready'; the subscriber follows the counted stream.
  const sub = observer.subscribeToAll({ handler: (e) => void (e.streamId === 'shared' && seen.push(e)) })
  await sub.caughtUp

  const writers = 4
  const perWriter = 25
  const fixture = join(import.meta.dirname, 'fixtures', 'writer.ts')
  // Each child migrates on start too: concurrent migrations of one file must all succeed. The
  // children start their appends together at a barrier they keep in the file.
  const startAt = String(Date.now())
  const outputs = await Promise.all(
    Array.from({ length: writers }, (_, w) =>
      run(process.execPath, ['--import', 'tsx', fixture, path, `w${w}`, String(perWriter), startAt, String(writers)], {
        timeout: 60_000,
      }),
    ),
  )
  const conflicts = outputs.map((o) => (JSON.parse(o.stdout) as { conflicts: number }).conflicts)

  const stream = await collect(observer.readStream('shared'))
  expect(stream).toHaveLength(writers * perWriter)
  expect(stream.map((e) => (e.data as { basedOn: string }).basedOn)).toEqual(stream.map((_, i) => String(i - 1)))
  expect(conflicts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)

  await vi.waitFor(() => expect(seen).toHaveLength(writers * perWriter), { timeout: 5_000 })
  expectWellOrdered(seen)
  await observer.close()
}, 90_000)

it('lets several processes open and migrate one brand-new file at the same moment', async () => {
  const path = join(dir, 'fresh.db')
  const fixture = join(import.meta.dirname, 'fixtures', 'writer.ts')
  const startAt = String(Date.now() + 2_000)
  // Not created beforehand: each child opens the missing file, switches it to WAL and migrates.
  const outputs = await Promise.all(
    Array.from({ length: 4 }, (_, w) =>
      run(process.execPath, ['--import', 'tsx', fixture, path, `w${w}`, '3', startAt, '4', 'open-at-start'], { timeout: 60_000 }),
    ),
  )
  expect(outputs).toHaveLength(4)
  const store = createSqliteEventStore({ path })
  expect(await collect(store.readStream('shared'))).toHaveLength(12)
  await store.close()
}, 90_000)
