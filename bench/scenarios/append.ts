import { type BackendName, openBackend } from '../lib/backends.js'
import { ratio, throughput } from '../lib/measure.js'
import { emit } from '../lib/report.js'

const DATA = JSON.stringify({ amount: 42, currency: 'EUR', note: 'benchmark payload of a typical small event' })
const EVENTS_PER_STREAM = 10

/** Each writer appends to streams of its own, ten events each, with the expected revision checked. */
const streamOf = (run: string, worker: number, i: number) => `${run}-${worker}-${Math.floor(i / EVENTS_PER_STREAM)}`

export async function appendSingle(backends: BackendName[], { seconds }: { seconds: number }) {
  for (const name of backends) {
    for (const writers of [1, 8, 32, 128]) {
      const bench = await openBackend(name, writers)
      const target = { 1: 0.8, 8: 1.2, 32: 2.5, 128: undefined }[writers]
      const raw = await throughput(writers, seconds * 1000, async (w, i) => {
        await bench.raw.insert([{ stream: streamOf('raw', w, i), revision: i % EVENTS_PER_STREAM, type: 'Happened', data: DATA }])
        return 1
      })
      const data = JSON.parse(DATA)
      const store = await throughput(writers, seconds * 1000, async (w, i) => {
        const revision = i % EVENTS_PER_STREAM
        await bench.store.appendToStream(streamOf('es', w, i), [{ type: 'Happened', data }], {
          expectedRevision: revision === 0 ? 'no_stream' : BigInt(revision - 1),
        })
        return 1
      })
      emit({
        bench: 'append-single',
        backend: name,
        writers,
        eventsPerSec: store.perSecond,
        baselineEventsPerSec: raw.perSecond,
        ratio: ratio(store.perSecond, raw.perSecond),
        target: name === 'sqlite' ? 0.8 : target,
      })
      await bench.close()
    }
  }
}

export async function appendBatch(backends: BackendName[], { seconds }: { seconds: number }) {
  for (const name of backends) {
    for (const size of [10, 100]) {
      const writers = 8
      const bench = await openBackend(name, writers)
      const rows = (stream: string) =>
        Array.from({ length: size }, (_, r) => ({ stream, revision: r, type: 'Happened', data: DATA }))
      const raw = await throughput(writers, seconds * 1000, async (w, i) => {
        await bench.raw.insert(rows(`raw-${w}-${i}`))
        return size
      })
      const data = JSON.parse(DATA)
      const batch = Array.from({ length: size }, () => ({ type: 'Happened', data }))
      const store = await throughput(writers, seconds * 1000, async (w, i) => {
        await bench.store.appendToStream(`es-${w}-${i}`, batch, { expectedRevision: 'no_stream' })
        return size
      })
      emit({
        bench: 'append-batch',
        backend: name,
        batchSize: size,
        writers,
        eventsPerSec: store.perSecond,
        baselineEventsPerSec: raw.perSecond,
        ratio: ratio(store.perSecond, raw.perSecond),
        target: 0.9,
      })
      await bench.close()
    }
  }
}
