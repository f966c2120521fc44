import { recordedMetadata } from '../core/internal.js'
import type { RecordedEvent } from '../core/types.js'

/**
 * An events row as the adapter's type parsers return it (int8 as bigint, the rest as text), in the
 * column order of sql.ts's EVENT_COLUMNS: rows are read as arrays.
 */
export type EventRow = [
  position: bigint,
  eventId: string,
  streamId: string,
  revision: bigint,
  type: string,
  data: string,
  metadata: string,
  recordedMs: string,
]

export const toRecordedEvent = ([
  position,
  id,
  streamId,
  revision,
  type,
  data,
  metadata,
  recordedMs,
]: EventRow): RecordedEvent => ({
  id,
  type,
  data: JSON.parse(data),
  metadata: recordedMetadata(metadata, id),
  streamId,
  revision,
  position,
  // float8 milliseconds: rounding undoes any last-bit error of the seconds-to-milliseconds product.
  recordedAt: new Date(Math.round(Number(recordedMs))),
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
