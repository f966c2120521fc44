import { z } from 'zod'
import { createSchemaRegistry, defineEvent, type EventStore } from '../../src/index.js'
import { type BackendName, openBackend } from '../lib/backends.js'
import { now, ratio, throughput } from '../lib/measure.js'
import { emit } from '../lib/report.js'

const DATA = { amount: 42, currency: 'EUR', note: 'benchmark payload of a typical small event' }
const EVENTS_PER_STREAM = 10
/** The budget: appends with validation at most 15% slower than without. */
const TARGET = 0.85

const Happened = defineEvent('Happened', {
  version: 2,
  schema: z.object({ amount: z.number(), currency: z.enum(['EUR', 'USD']), note: z.string() }),
  upcasters: { 1: (old: { amount: number; note: string }) => ({ ...old, currency: 'EUR' }) },
})
const registry = createSchemaRegistry([Happened])

/** Each writer appends to streams of its own, ten events each, as in `append-single`. */
function appendLoop(store: EventStore, run: string) {
  return async (worker: number, i: number) => {
    const revision = i % EVENTS_PER_STREAM
    await store.appendToStream(`${run}-${worker}-${Math.floor(i / EVENTS_PER_STREAM)}`, [{ type: 'Happened', data: DATA }], {
      expectedRevision: revision === 0 ? 'no_stream' : BigInt(revision - 1),
    })
    return 1
  }
}

async function readAllPerSecond(store: EventStore): Promise<number> {
  const started = now()
  let count = 0
  for await (const _ of store.readAll()) count++
  return Math.round((count / (now() - started)) * 1000)
}

/**
 * Append throughput with a schema registry (zod validation and the version stamp) against the
 * same store without one, on one database; then read throughput of events stored a version back
 * (every one upcast) against plain reads.
 */
export async function schemaValidation(backends: BackendName[], { seconds, quick }: { seconds: number; quick: boolean }) {
  for (const name of backends) {
    for (const writers of [1, 8]) {
      const bench = await openBackend(name, writers)
      // Two stores opened alike on one database, so the registry is the only difference.
      const plain = await bench.openStore({})
      const validated = await bench.openStore({ registry })
      // A-B-B-A: the log grows as the bench runs and later rounds are slower; this order charges both sides alike.
      const total = { plain: 0, validated: 0 }
      for (const [round, side] of (['plain', 'validated', 'validated', 'plain'] as const).entries()) {
        const store = side === 'plain' ? plain : validated
        total[side] += (await throughput(writers, (seconds * 1000) / 2, appendLoop(store, `${side}${round}`))).perSecond
      }
      emit({
        bench: 'schema-validation',
        backend: name,
        writers,
        eventsPerSec: Math.round(total.validated / 2),
        baselineEventsPerSec: Math.round(total.plain / 2),
        ratio: ratio(total.validated, total.plain),
        target: TARGET,
      })
      await bench.close()
    }
    await upcastRead(name, quick ? 5_000 : 50_000)
  }
}

async function upcastRead(name: BackendName, count: number) {
  const bench = await openBackend(name, 8)
  const old = { amount: 42, note: DATA.note } // version 1: no currency, upcast on every read
  for (let i = 0; i < count; i += 500) {
    await bench.store.appendToStream(
      `old-${i}`,
      Array.from({ length: Math.min(500, count - i) }, () => ({ type: 'Happened', data: old })),
    )
  }
  const upcasting = await bench.openStore({ registry })
  // Warm-up both: caches, pages and the JIT.
  await readAllPerSecond(bench.store)
  await readAllPerSecond(upcasting)
  const plain = Math.max(await readAllPerSecond(bench.store), await readAllPerSecond(bench.store))
  const upcast = Math.max(await readAllPerSecond(upcasting), await readAllPerSecond(upcasting))
  emit({
    bench: 'schema-upcast-read',
    backend: name,
    events: count,
    eventsPerSec: upcast,
    baselineEventsPerSec: plain,
    ratio: ratio(upcast, plain),
  })
  await bench.close()
}
