import { isEventfoldError } from '../../src/index.js'
import { type BackendName, openBackend } from '../lib/backends.js'
import { ratio, throughput } from '../lib/measure.js'
import { emit } from '../lib/report.js'

const WRITERS = 32

/**
 * 32 writers on one stream, each read → decide → append with the expected revision, retrying on
 * conflict. The baseline does the same with plain SQL: read the last revision, insert the next one,
 * and count a unique-constraint violation as the conflict.
 */
export async function hotStream(backends: BackendName[], { seconds }: { seconds: number }) {
  for (const name of backends) {
    const bench = await openBackend(name, WRITERS)
    let rawConflicts = 0
    const raw = await throughput(WRITERS, seconds * 1000, async () => {
      const seen = await bench.raw.lastRevision('hot')
      try {
        await bench.raw.insert([{ stream: 'hot', revision: seen + 1, type: 'Counted', data: `{"basedOn":${seen}}` }])
        return 1
      } catch {
        rawConflicts++
        return 0
      }
    })
    let conflicts = 0
    const store = await throughput(WRITERS, seconds * 1000, async () => {
      let revision: bigint | undefined
      for await (const e of bench.store.readStream('hot', { direction: 'backwards', maxCount: 1 })) revision = e.revision
      try {
        await bench.store.appendToStream('hot', [{ type: 'Counted', data: { basedOn: String(revision ?? -1n) } }], {
          expectedRevision: revision ?? 'no_stream',
        })
        return 1
      } catch (error) {
        if (!isEventfoldError(error, 'WRONG_EXPECTED_REVISION')) throw error
        conflicts++
        return 0
      }
    })
    // No lost update, checked: every event was decided on the revision just before it.
    let lost = 0
    let count = 0
    for await (const e of bench.store.readStream('hot')) {
      if ((e.data as { basedOn: string }).basedOn !== String(e.revision - 1n)) lost++
      count++
    }
    emit({
      bench: 'hot-stream',
      backend: name,
      writers: WRITERS,
      appendsPerSec: store.perSecond,
      conflictRate: Math.round((conflicts / (conflicts + count)) * 1000) / 1000,
      eventsInStream: count,
      lostUpdates: lost,
      baselineAppendsPerSec: raw.perSecond,
      baselineConflictRate: Math.round((rawConflicts / (rawConflicts + raw.count)) * 1000) / 1000,
      ratio: ratio(store.perSecond, raw.perSecond),
    })
    await bench.close()
  }
}
