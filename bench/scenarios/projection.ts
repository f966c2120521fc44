import type Database from 'better-sqlite3'
import type pg from 'pg'
import { createAsyncProjection, defineProjection, handleCommand, type Projection, type RecordedEvent } from '../../src/index.js'
import { type AccountCommand, account as accountDecider } from '../../test/conformance/deciders.js'
import { type BackendName, openBackend } from '../lib/backends.js'
import { now, throughput } from '../lib/measure.js'
import { populate } from '../lib/populate.js'
import { emit } from '../lib/report.js'

const perSecond = (count: number, ms: number) => Math.round((count / ms) * 1000)

/** A SQL read model: events per stream, one multi-row upsert per batch. */
function countsProjection(backend: BackendName, table: string) {
  if (backend === 'postgres') {
    return defineProjection<pg.PoolClient>({
      name: 'bench-counts',
      setup: async (client) => {
        await client.query(`CREATE TABLE IF NOT EXISTS ${table} (stream text PRIMARY KEY, n int NOT NULL)`)
      },
      async handle(events: RecordedEvent[], { tx }) {
        const counts = tally(events)
        await tx.query(
          `INSERT INTO ${table} (stream, n) SELECT * FROM unnest($1::text[], $2::int[])
           ON CONFLICT (stream) DO UPDATE SET n = ${table}.n + excluded.n`,
          [[...counts.keys()], [...counts.values()]],
        )
      },
    })
  }
  return defineProjection<Database.Database>({
    name: 'bench-counts',
    setup: (db) => void db.exec(`CREATE TABLE IF NOT EXISTS ${table} (stream TEXT PRIMARY KEY, n INTEGER NOT NULL)`),
    handle(events: RecordedEvent[], { tx }) {
      const upsert = tx.prepare(
        `INSERT INTO ${table} (stream, n) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET n = n + excluded.n`,
      )
      for (const [stream, n] of tally(events)) upsert.run(stream, n)
    },
  })
}

function tally(events: RecordedEvent[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const e of events) counts.set(e.streamId, (counts.get(e.streamId) ?? 0) + 1)
  return counts
}

/**
 * Async projection catching up the whole log into a SQL table, beside `readAll` over the same
 * log (the rate a projection could at best reach) in the same run.
 */
export async function projection(backends: BackendName[], { quick }: { quick: boolean }) {
  const total = quick ? 100_000 : 1_000_000
  for (const name of backends) {
    const bench = await openBackend(name, 8)
    await populate(bench, total)
    let t = now()
    let count = 0
    for await (const _ of bench.store.readAll()) count++
    const readAllRate = perSecond(count, now() - t)

    const table = bench.schema === undefined ? 'bench_counts' : `"${bench.schema}".bench_counts`
    const projection = countsProjection(name, table) as Projection
    const runner = createAsyncProjection({ store: bench.store, projection, batchSize: 2000 })
    t = now()
    await runner.start()
    await runner.waitFor(BigInt(count), { timeoutMs: 600_000 })
    const projectionRate = perSecond(count, now() - t)
    await runner.stop()
    emit({
      bench: 'projection-catch-up',
      backend: name,
      events: count,
      eventsPerSecond: projectionRate,
      baseline: 'readAll',
      baselinePerSecond: readAllRate,
      ratio: Number((projectionRate / readAllRate).toFixed(2)),
    })
    await bench.close()
  }
}

/** handleCommand on distinct streams and on one hot stream, beside bare appends at the same concurrency. */
export async function commands(backends: BackendName[], { seconds }: { seconds: number }) {
  // Snapshots every 100 events, as a hot stream needs: without them every command reads the whole stream.
  const decider = accountDecider({ snapshotEvery: 100 })
  const open: AccountCommand = { type: 'Open', owner: 'Ada' }
  const deposit: AccountCommand = { type: 'Deposit', amount: 1 }
  for (const name of backends) {
    for (const [label, concurrency, streamOf] of [
      ['distinct-streams', 32, (w: number, i: number) => `cmd-${w}-${i}`],
      ['hot-stream', 8, () => 'cmd-hot'],
    ] as const) {
      const bench = await openBackend(name, concurrency)
      await handleCommand(bench.store, 'cmd-hot', open, decider)
      const measured = await throughput(concurrency, seconds * 1000, async (w, i) => {
        const stream = streamOf(w, i)
        await handleCommand(bench.store, stream, label === 'hot-stream' ? deposit : open, decider, { retries: 1000 })
        return 1
      })
      const appends = await throughput(concurrency, seconds * 1000, async (w, i) => {
        await bench.store.appendToStream(`bare-${label}-${w}-${i}`, [{ type: 'Opened', data: { owner: 'Ada' } }])
        return 1
      })
      emit({
        bench: 'commands',
        backend: name,
        case: label,
        concurrency,
        commandsPerSecond: measured.perSecond,
        baseline: 'appendToStream, one event, distinct streams',
        baselinePerSecond: appends.perSecond,
        ratio: Number((measured.perSecond / appends.perSecond).toFixed(2)),
      })
      await bench.close()
    }
  }
}
