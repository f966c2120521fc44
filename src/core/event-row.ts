import type { RecordedEvent } from './types.js'
import { recordedMetadata } from './validation.js'

/**
 * An events row as the SQL adapters read it: an array in this column order (no object with named
 * keys built per row), int8 columns as bigint, JSON columns as their stored text. The recorded time
 * is milliseconds since the epoch, as a bigint (SQLite) or the text of a float8 (PostgreSQL).
 */
export type EventRow = [
  position: bigint,
  eventId: string,
  streamId: string,
  revision: bigint,
  type: string,
  data: string,
  metadata: string,
  recordedMs: bigint | string,
]

export const eventFromRow = ([position, id, streamId, revision, type, data, metadata, recordedMs]: EventRow): RecordedEvent => ({
  id,
  type,
  data: JSON.parse(data),
  metadata: recordedMetadata(metadata, id),
  streamId,
  revision,
  position,
  // A float8 product of seconds and 1000 can miss the whole millisecond by its last bit: round.
  recordedAt: new Date(Math.round(Number(recordedMs))),
})
