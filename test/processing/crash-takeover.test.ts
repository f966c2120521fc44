import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { processingOf } from '../../src/core/internal.js'
import { createProcessor, type EventStore } from '../../src/index.js'
import { createPostgresEventStore } from '../../src/postgres/index.js'
import { createSqliteEventStore } from '../../src/sqlite/index.js'
import { dropSchema, PG_URL } from '../conformance/adapters.js'
import { collect } from '../conformance/helpers.js'
import { until } from '../conformance/processor.suite.js'

const LEASE_MS = 1_000
const STREAMS = 12
const dir = mkdtempSync(join(tmpdir(), 'eventfold-proc-'))
const schemas: string[] = []
const children = new Set<ChildProcess>()

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
  await Promise.all(schemas.map(dropSchema))
})

interface Backend {
  name: 'sqlite' | 'postgres'
  open(): Promise<{ store: EventStore; target: string }>
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    async open() {
      const target = join(dir, `${Math.random().toString(36).slice(2)}.db`)
      // Created here first: two processes switching one new file to WAL at once can fail with SQLITE_BUSY.
      const store = createSqliteEventStore({ path: target, busyTimeoutMs: 20_000 })
      await store.migrate()
      return { store, target }
    },
  },
  {
    name: 'postgres',
    async open() {
      const target = `ef_proc_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
      schemas.push(target)
      const store = createPostgresEventStore({ connectionString: PG_URL, schema: target })
      await store.migrate()
      return { store, target }
    },
  },
]

async function startWorker(backend: Backend['name'], target: string): Promise<ChildProcess> {
  const fixture = join(import.meta.dirname, 'fixtures', 'tally-worker.ts')
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, backend, target, String(LEASE_MS)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`worker exited with ${code} before it was ready: ${stderr}`)
  })
  await Promise.race([once(child.stdout as NodeJS.ReadableStream, 'data'), exited])
  exited.catch(() => {})
  return child
}

async function kill(child: ChildProcess) {
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
  children.delete(child)
}

/** Appends one event to a random stream every few ms until stopped; returns how many it wrote. */
function writer(store: EventStore) {
  let running = true
  let written = 0
  const done = (async () => {
    while (running) {
      await store.appendToStream(`acct-${Math.floor(Math.random() * STREAMS)}`, [{ type: 'Tick', data: { n: written } }])
      written++
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  })()
  return {
    stop: async () => {
      running = false
      await done
      return written
    },
  }
}

/** The read model must equal the log: every event counted once, in order, nothing out of place. */
async function expectTallyMatchesLog(store: EventStore) {
  let head = 0n
  for await (const e of store.readAll()) head = e.position
  const waiter = createProcessor({ store, name: 'tally', partitions: 8, handler: () => {} })
  await waiter.waitFor(head, { timeoutMs: 60_000 })
  const docs = new Map(
    (await waiter.documents<{ count: number; lastRevision: number; violations: string[] }>('tally').all()).map((d) => [
      d.id,
      d.doc,
    ]),
  )
  for (let s = 0; s < STREAMS; s++) {
    const stream = await collect(store.readStream(`acct-${s}`))
    const tally = docs.get(`acct-${s}`)
    expect(tally?.violations ?? [], `acct-${s}`).toEqual([])
    expect(tally?.count ?? 0, `acct-${s} count`).toBe(stream.length)
    expect(tally?.lastRevision ?? -1, `acct-${s} last revision`).toBe(stream.length - 1)
  }
}

describe.each(backends)('processor processes on $name', (backend) => {
  it('applies each event exactly once though its process is SIGKILLed mid-batch again and again', async () => {
    const { store, target } = await backend.open()
    const load = writer(store)
    for (let round = 0; round < 5; round++) {
      const worker = await startWorker(backend.name, target)
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 500))
      await kill(worker)
    }
    const written = await load.stop()
    expect(written).toBeGreaterThan(100)
    const last = await startWorker(backend.name, target)
    await expectTallyMatchesLog(store)
    await kill(last)
    await store.close()
  })

  it('moves a killed process’s partitions to the survivor within the lease, losing nothing and keeping each stream in order', async () => {
    const { store, target } = await backend.open()
    const processing = processingOf(store)
    if (processing === undefined) throw new Error('no processing backend')
    const owners = async () => new Set((await processing.partitions('tally')).map((p) => p.owner))
    const survivor = await startWorker(backend.name, target)
    const victim = await startWorker(backend.name, target)
    const load = writer(store)
    await until('both workers hold partitions', async () => (await owners()).size === 2 && !(await owners()).has(null))
    await new Promise((resolve) => setTimeout(resolve, 500))
    await kill(victim)
    const killedAt = Date.now()
    await until('the survivor holds every partition', async () => {
      const held = await owners()
      return held.size === 1 && !held.has(null)
    })
    const takeoverMs = Date.now() - killedAt
    // The lease runs out after LEASE_MS; the survivor notices within a heartbeat (a third of it).
    // The slack is for a loaded machine, not a performance claim.
    expect(takeoverMs).toBeLessThan(LEASE_MS + 5_000)
    await new Promise((resolve) => setTimeout(resolve, 300))
    await load.stop()
    await expectTallyMatchesLog(store)
    await kill(survivor)
    await store.close()
  })
})
