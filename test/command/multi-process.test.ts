import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { EventStore } from '../../src/index.js'
import { createPostgresEventStore } from '../../src/postgres/index.js'
import { createSqliteEventStore } from '../../src/sqlite/index.js'
import { dropSchema, PG_URL } from '../conformance/adapters.js'
import { collect } from '../conformance/helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'eventfold-cmd-'))
const schema = `ef_cmd_mp_${Date.now().toString(36)}`
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await dropSchema(schema)
})

const COMMANDS = 24

interface Output {
  startedAt: number
  finishedAt: number
  results: { position: string }[]
}

/** Two processes handle the same command ids at the same moment; returns what each got. */
async function twins(backend: 'sqlite' | 'postgres', target: string): Promise<Output[]> {
  const fixture = join(import.meta.dirname, 'fixtures', 'handle-commands.ts')
  const args = ['--import', 'tsx', fixture, backend, target, String(COMMANDS)]
  const children = [0, 1].map(() => spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] }))
  const outputs = children.map(async (child) => {
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const [code] = await once(child, 'close')
    if (code !== 0) throw new Error(`handler process exited with ${code}: ${stderr}`)
    return stdout.slice(stdout.indexOf('\n') + 1)
  })
  // Released together once both are connected and migrated.
  // A child that dies before it is ready fails the test at once (its output promise rejects).
  await Promise.all(children.map((child, i) => Promise.race([once(child.stdout, 'data'), outputs[i]])))
  const startAt = Date.now() + 100
  for (const child of children) child.stdin.end(`go ${startAt}\n`)
  const parsed: Output[] = (await Promise.all(outputs)).map((stdout) => JSON.parse(stdout))
  // They really ran at the same time: each started before the other finished.
  const [a, b] = parsed as [Output, Output]
  expect(
    Math.max(a.startedAt, b.startedAt),
    JSON.stringify([a, b].map(({ startedAt, finishedAt }) => ({ startedAt, finishedAt }))),
  ).toBeLessThan(Math.min(a.finishedAt, b.finishedAt))
  return parsed
}

async function expectAppendedOnce(store: EventStore, [first, second]: Output[]) {
  expect(second?.results).toEqual(first?.results)
  const stream = await collect(store.readStream('shared'))
  // Open once, then two deposits per command: no command's events twice, none lost.
  expect(stream).toHaveLength(1 + 2 * (COMMANDS - 1))
  const commands = Array.from({ length: COMMANDS }, (_, i) => (i === 0 ? ['cmd-0'] : [`cmd-${i}`, `cmd-${i}`])).flat()
  expect(stream.map((e) => e.metadata.commandId)).toEqual(commands)
  const balances = stream.slice(1).map((e) => (e.data as { balance: number }).balance)
  const amounts = stream.slice(1).map((e) => (e.data as { amount: number }).amount)
  expect(balances).toEqual(amounts.map((_, i) => amounts.slice(0, i + 1).reduce((a, b) => a + b, 0)))
  const last = stream.at(-1)
  expect(first?.results.at(-1)?.position).toBe(`${last?.position}n`)
}

describe('the same command id handled by two processes at once', () => {
  it('appends once on a shared SQLite file, and both get the same results', async () => {
    const path = join(dir, 'shared.db')
    // Created first: two processes switching one new file to WAL at once can fail with SQLITE_BUSY.
    const store = createSqliteEventStore({ path })
    await store.migrate()
    try {
      const results = await twins('sqlite', path)
      await expectAppendedOnce(store, results)
    } finally {
      await store.close()
    }
  }, 60_000)

  it('appends once on PostgreSQL, and both get the same results', async () => {
    const store = createPostgresEventStore({ connectionString: PG_URL, schema })
    await store.migrate()
    try {
      const results = await twins('postgres', schema)
      await expectAppendedOnce(store, results)
    } finally {
      await store.close()
    }
  }, 60_000)
})
