import { type BackendName, openBackend } from '../lib/backends.js'
import { now, ratio } from '../lib/measure.js'
import { populate } from '../lib/populate.js'
import { emit } from '../lib/report.js'

const PAGE = 1000

/** Samples resident memory while `work` runs: the peak shows whether reading streams or buffers. */
async function withPeakRss<T>(work: () => Promise<T>): Promise<{ result: T; startMiB: number; peakMiB: number }> {
  globalThis.gc?.()
  const start = process.memoryUsage().rss
  let peak = start
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 20)
  try {
    const result = await work()
    peak = Math.max(peak, process.memoryUsage().rss)
    return { result, startMiB: Math.round(start / 2 ** 20), peakMiB: Math.round(peak / 2 ** 20) }
  } finally {
    clearInterval(timer)
  }
}

const perSecond = (count: number, ms: number) => Math.round((count / ms) * 1000)

/**
 * Reads the whole log three ways: the raw keyset SELECT (pages of 1000), `readAll`, and a
 * subscription from the start until `caughtUp`. Also reports peak RSS of the two store readers.
 */
export async function catchUp(backends: BackendName[], { quick }: { quick: boolean }) {
  const total = quick ? 100_000 : 1_000_000
  for (const name of backends) {
    const bench = await openBackend(name, 8)
    await populate(bench, total)

    const started = now()
    let rawCount = 0
    for (let after = 0; ; ) {
      const page = await bench.raw.readPage(after, PAGE)
      if (page.length === 0) break
      rawCount += page.length
      after = (page.at(-1) as { position: number }).position
    }
    const rawRate = perSecond(rawCount, now() - started)

    const read = await withPeakRss(async () => {
      const t = now()
      let count = 0
      for await (const _ of bench.store.readAll()) count++
      return { count, ms: now() - t }
    })
    const readRate = perSecond(read.result.count, read.result.ms)

    const subscribed = await withPeakRss(async () => {
      const t = now()
      let count = 0
      const sub = bench.store.subscribeToAll({ from: 'start', handler: () => void count++ })
      await sub.caughtUp
      const ms = now() - t
      await sub.stop()
      return { count, ms }
    })
    const subRate = perSecond(subscribed.result.count, subscribed.result.ms)

    const common = { backend: name, events: total, baselineEventsPerSec: rawRate }
    emit({
      bench: 'catch-up',
      reader: 'readAll',
      ...common,
      eventsPerSec: readRate,
      read: read.result.count,
      ratio: ratio(readRate, rawRate),
      target: 0.8,
    })
    emit({
      bench: 'catch-up',
      reader: 'subscription',
      ...common,
      eventsPerSec: subRate,
      read: subscribed.result.count,
      ratio: ratio(subRate, rawRate),
      target: 0.5,
    })
    emit({
      bench: 'memory',
      reader: 'readAll',
      backend: name,
      events: total,
      rssStartMiB: read.startMiB,
      rssPeakMiB: read.peakMiB,
    })
    emit({
      bench: 'memory',
      reader: 'subscription',
      backend: name,
      events: total,
      rssStartMiB: subscribed.startMiB,
      rssPeakMiB: subscribed.peakMiB,
    })
    await bench.close()
  }
}
