import { type BackendName, openBackend } from '../lib/backends.js'
import { now, percentiles, ratio, throughput } from '../lib/measure.js'
import { PAYLOAD, populate } from '../lib/populate.js'
import { emit } from '../lib/report.js'

const PROBE_STREAMS = 50

/** Latency of `op` over `runs` calls, spread over the probe streams. */
async function latency(runs: number, op: (stream: string) => Promise<unknown>) {
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const t = now()
    await op(`probe-${i % PROBE_STREAMS}`)
    samples.push(now() - t)
  }
  return percentiles(samples, [50, 99])
}

/**
 * The same measurements on an empty store and after 1M and 5M events (`--quick`: 100k and 500k):
 * single-event append rate at 8 writers, reading a 100-event stream, folding it. Flat means the
 * hot queries stay on their indexes as the log grows.
 */
export async function growth(backends: BackendName[], { seconds, quick }: { seconds: number; quick: boolean }) {
  const sizes = quick ? [0, 100_000, 500_000] : [0, 1_000_000, 5_000_000]
  for (const name of backends) {
    const bench = await openBackend(name, 8)
    const batch = Array.from({ length: 100 }, () => ({ type: 'Probed', data: PAYLOAD }))
    for (let s = 0; s < PROBE_STREAMS; s++) await bench.store.appendToStream(`probe-${s}`, batch)
    let filled = 0
    let empty: { append: number; read: number; fold: number } | undefined
    for (const size of sizes) {
      if (size > filled) {
        await populate(bench, size - filled, 100, `fill${size}`)
        await bench.settle()
      }
      filled = size
      const run = `grow${size}`
      const append = await throughput(8, seconds * 1000, async (w, i) => {
        await bench.store.appendToStream(`${run}-${w}-${Math.floor(i / 10)}`, [{ type: 'Grown', data: PAYLOAD }])
        return 1
      })
      const raw = await throughput(8, seconds * 1000, async (w, i) => {
        await bench.raw.insert([{ stream: `${run}-${w}-${Math.floor(i / 10)}`, revision: i % 10, type: 'Grown', data: '{}' }])
        return 1
      })
      const read = await latency(300, async (stream) => {
        for await (const _ of bench.store.readStream(stream)) {
        }
      })
      const fold = await latency(300, (stream) =>
        bench.store.aggregateStream(stream, { initialState: () => 0, evolve: (n: number) => n + 1 }),
      )
      empty ??= { append: append.perSecond, read: read.p50 as number, fold: fold.p50 as number }
      emit({
        bench: 'growth',
        backend: name,
        storedEvents: size,
        appendEventsPerSec: append.perSecond,
        baselineEventsPerSec: raw.perSecond,
        ratio: ratio(append.perSecond, raw.perSecond),
        appendVsEmpty: ratio(append.perSecond, empty.append),
        readStream100Ms: read,
        readVsEmpty: ratio(read.p50 as number, empty.read),
        aggregateStream100Ms: fold,
        aggregateVsEmpty: ratio(fold.p50 as number, empty.fold),
        target: 'append, read and aggregate within 20% of the empty store',
      })
    }
    await bench.close()
  }
}
