import pg from 'pg'
import type { EventStore } from '../../src/index.js'
import { type BackendName, openBackend, PG_URL } from '../lib/backends.js'
import { now, percentiles, sleep } from '../lib/measure.js'
import { emit } from '../lib/report.js'

const POINTS = [50, 99, 99.9]
const TICK_MS = 5

/** Offers `rate` single-event appends per second for `seconds`, each to its own stream slot. */
async function offer(rate: number, seconds: number, send: (i: number) => Promise<unknown>): Promise<number> {
  const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000))
  const ticks = Math.round((seconds * 1000) / TICK_MS)
  const inFlight: Promise<unknown>[] = []
  const started = now()
  let sent = 0
  for (let tick = 0; tick < ticks; tick++) {
    for (let k = 0; k < perTick; k++) inFlight.push(send(sent++))
    // Keep to the schedule rather than to a fixed sleep, so slow appends do not lower the offered load.
    const due = started + (tick + 1) * TICK_MS
    await sleep(Math.max(0, due - now()))
  }
  await Promise.all(inFlight)
  return sent
}

async function storeLatency(writer: EventStore, reader: EventStore, rate: number, seconds: number) {
  const samples: number[] = []
  const sub = reader.subscribeToAll({
    from: 'end',
    handler: (e) => void samples.push(now() - (e.data as { sentAt: number }).sentAt),
  })
  await sub.caughtUp
  const sent = await offer(rate, seconds, (i) =>
    writer.appendToStream(`lat-${rate}-${i % 1000}`, [{ type: 'Pinged', data: { sentAt: now() } }]),
  )
  const deadline = now() + 10_000
  while (samples.length < sent && now() < deadline) await sleep(10)
  await sub.stop()
  return { sent, received: samples.length, ...percentiles(samples, POINTS) }
}

/** The bare mechanism underneath: NOTIFY from one connection to a LISTEN on another. */
async function notifyLatency(rate: number, seconds: number) {
  const listener = new pg.Client({ connectionString: PG_URL })
  const pool = new pg.Pool({ connectionString: PG_URL, max: 8 })
  await listener.connect()
  const samples: number[] = []
  listener.on('notification', (n) => void samples.push(now() - Number(n.payload)))
  await listener.query('LISTEN eventfold_bench_latency')
  const sent = await offer(rate, seconds, () =>
    pool.query('SELECT pg_notify($1, $2)', ['eventfold_bench_latency', String(now())]),
  )
  await sleep(200)
  await Promise.all([listener.end(), pool.end()])
  return { sent, received: samples.length, ...percentiles(samples, POINTS) }
}

/** Append → subscriber handler latency under a steady offered load. */
export async function liveLatency(backends: BackendName[], { seconds }: { seconds: number }) {
  for (const name of backends) {
    for (const rate of [1_000, 10_000]) {
      const bench = await openBackend(name, 8)
      // PostgreSQL: the subscriber is another store (its own pool and LISTEN connection), as another
      // service would be. SQLite is embedded: the subscriber shares the writer's store.
      const reader = name === 'postgres' ? await bench.openStore() : bench.store
      const measured = await storeLatency(bench.store, reader, rate, Math.max(seconds, 3))
      const baseline = name === 'postgres' ? await notifyLatency(rate, Math.max(seconds, 3)) : undefined
      emit({
        bench: 'live-latency',
        backend: name,
        offeredPerSec: rate,
        latencyMs: measured,
        baselineLatencyMs: baseline,
        baseline: baseline && 'bare pg_notify → LISTEN',
        targetP99Ms: name === 'postgres' && rate === 1_000 ? 10 : undefined,
      })
      await bench.close()
    }
  }
}
