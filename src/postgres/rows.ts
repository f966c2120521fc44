import { recordedMetadata } from '../core/internal.js'
import type { RecordedEvent } from '../core/types.js'

/** An events row as the adapter's type parsers return it (int8 as bigint, the rest as text). */
export interface EventRow {
  position: bigint
  event_id: string
  stream_id: string
  revision: bigint
  type: string
  data: string
  metadata: string
  recorded_ms: bigint
}

export const toRecordedEvent = (row: EventRow): RecordedEvent => ({
  id: row.event_id,
  type: row.type,
  data: JSON.parse(row.data),
  metadata: recordedMetadata(row.metadata, row.event_id),
  streamId: row.stream_id,
  revision: row.revision,
  position: row.position,
  recordedAt: new Date(Number(row.recorded_ms)),
})

const INT8 = 20

/**
 * The adapter's own type parsers, set per pool, so a global `pg.types.setTypeParser` elsewhere in
 * the application cannot change what the store returns. int8 becomes bigint; everything else stays
 * text and is converted where it is read.
 */
export const typeParsers = {
  getTypeParser: (oid: number) => (oid === INT8 ? (text: string) => BigInt(text) : (text: string) => text),
}
