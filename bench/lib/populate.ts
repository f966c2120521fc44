import type { Bench } from './backends.js'

export const PAYLOAD = { amount: 42, currency: 'EUR', note: 'benchmark payload of a typical small event' }

/**
 * Fills the store with `total` events in streams of `perStream`, through the store's own append
 * path (8 writers, so PostgreSQL group-commits), and mirrors the same rows into the raw table.
 */
export async function populate(bench: Bench, total: number, perStream = 100, prefix = 'fill'): Promise<void> {
  const streams = Math.ceil(total / perStream)
  let next = 0
  const batch = Array.from({ length: perStream }, () => ({ type: 'Filled', data: PAYLOAD }))
  const data = JSON.stringify(PAYLOAD)
  const writer = async () => {
    for (let s = next++; s < streams; s = next++) {
      const count = Math.min(perStream, total - s * perStream)
      const stream = `${prefix}-${s}`
      await bench.store.appendToStream(stream, batch.slice(0, count), { expectedRevision: 'no_stream' })
      await bench.raw.insert(Array.from({ length: count }, (_, revision) => ({ stream, revision, type: 'Filled', data })))
    }
  }
  await Promise.all(Array.from({ length: 8 }, writer))
}
