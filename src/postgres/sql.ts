import type { StreamPageQuery } from '../core/internal.js'
import type { DeleteMode, EventFilter, ExpectedRevision } from '../core/types.js'
import type { PreparedEvent } from '../core/validation.js'
import type { SchemaNames } from './identifiers.js'

export interface Query {
  /** Set on the hottest statements: a named statement is parsed and planned once per connection. */
  name?: string
  /** Rows as arrays in column order: no object with named keys built per row, then dropped. */
  rowMode?: 'array'
  text: string
  values: unknown[]
}

export interface AppendRequest {
  streamId: string
  events: PreparedEvent[]
  expected: ExpectedRevision
}

/** bigints travel as decimal strings: node-postgres does not serialize BigInt itself. */
const expectedText = (expected: ExpectedRevision): string => (typeof expected === 'bigint' ? expected.toString() : expected)

// In the column order of core's EventRow. date_part, not extract: extract computes in numeric, a fifth
// of the server's time per row on a catch-up read; float8 holds these millisecond times exactly.
const EVENT_COLUMNS = `position, event_id, stream_id, revision, type, data::text AS data, metadata::text AS metadata,
  date_part('epoch', recorded_at) * 1000 AS recorded_ms`

/**
 * Below this many requests the per-request loop is cheaper than the set-based statements (see
 * append_batch). Calling the loop directly saves a nested function call on every small batch.
 */
const SET_BASED_FROM = 4

/** One round trip for a whole batch; the function takes the write lock itself (see append_batch). */
export function appendBatch(names: SchemaNames, requests: readonly AppendRequest[]): Query {
  const events = requests.flatMap((request) => request.events)
  const fn = requests.length < SET_BASED_FROM ? 'append_batch_sequential' : 'append_batch'
  return {
    // The text names the schema, so the statement name does too (by its channel's hash).
    name: `${names.channel}_${fn}`,
    text: `SELECT r_status, r_revision, r_position, r_duplicate
      FROM ${names.quoted}.${fn}($1, $2, $3::text[], $4::text[], $5::int[], $6::uuid[], $7::text[], $8::text[], $9::text[])`,
    values: [
      names.writeLockKey,
      names.channel,
      requests.map((request) => request.streamId),
      requests.map((request) => expectedText(request.expected)),
      requests.map((request) => request.events.length),
      events.map((event) => event.id),
      events.map((event) => event.type),
      events.map((event) => event.data),
      events.map((event) => event.metadata),
    ],
  }
}

/** Under the write lock too (inside the function), so no append lands between check and delete. */
export function deleteStream(names: SchemaNames, streamId: string, mode: DeleteMode, expected: ExpectedRevision): Query {
  return {
    text: `SELECT r_status, r_revision FROM ${names.quoted}.delete_stream($1, $2, $3, $4)`,
    values: [names.writeLockKey, streamId, mode, expectedText(expected)],
  }
}

/**
 * Keyset page of the log, on the primary key. No lock: positions become visible in order (see
 * append_batch), so "position > after" never skips an event that commits later.
 */
export function readAllPage(names: SchemaNames, after: bigint, limit: number, filter: EventFilter | undefined): Query {
  const values: unknown[] = [after.toString(), limit]
  const conditions = ['position > $1']
  if (filter?.eventTypes !== undefined) {
    values.push(filter.eventTypes)
    conditions.push(`type = ANY ($${values.length}::text[])`)
  }
  if (filter?.streamPrefix !== undefined) {
    values.push(filter.streamPrefix)
    // starts_with, not LIKE: a prefix holding % or _ must match literally.
    conditions.push(`starts_with(stream_id, $${values.length})`)
  }
  return {
    rowMode: 'array',
    text: `SELECT ${EVENT_COLUMNS} FROM ${names.quoted}.events WHERE ${conditions.join(' AND ')} ORDER BY position LIMIT $2`,
    values,
  }
}

/** A page of one stream from a revision, on the (stream_id, revision) index. */
export function readStreamPage(names: SchemaNames, streamId: string, { from, direction, limit }: StreamPageQuery): Query {
  const forwards = direction === 'forwards'
  const values: unknown[] = [streamId, limit]
  let bound = ''
  if (from !== undefined) {
    values.push(from.toString())
    bound = `AND revision ${forwards ? '>=' : '<='} $3`
  }
  return {
    rowMode: 'array',
    text: `SELECT ${EVENT_COLUMNS} FROM ${names.quoted}.events
      WHERE stream_id = $1 ${bound} ORDER BY revision ${forwards ? 'ASC' : 'DESC'} LIMIT $2`,
    values,
  }
}

/** A point lookup on the event_id unique index. */
export function locateEvent(names: SchemaNames, eventId: string): Query {
  return {
    text: `SELECT stream_id, revision, position FROM ${names.quoted}.events WHERE event_id = $1`,
    values: [eventId],
  }
}

export function headPosition(names: SchemaNames): Query {
  return { text: `SELECT coalesce(max(position), 0) AS head FROM ${names.quoted}.events`, values: [] }
}

export function streamHead(names: SchemaNames, streamId: string): Query {
  return { text: `SELECT max(revision) AS head FROM ${names.quoted}.events WHERE stream_id = $1`, values: [streamId] }
}

/**
 * The events this transaction itself wrote up to `upTo`, for inline projections. The xmin check
 * leaves out what an idempotent retry returned without writing (committed earlier, projected then).
 * They sit in (upTo - count, upTo]: positions are drawn under the write lock, one after another.
 */
export function writtenEvents(names: SchemaNames, upTo: bigint, count: number): Query {
  return {
    rowMode: 'array',
    text: `SELECT ${EVENT_COLUMNS} FROM ${names.quoted}.events
      WHERE position > $1 AND position <= $2 AND xmin = pg_current_xact_id()::xid ORDER BY position`,
    values: [(upTo - BigInt(count)).toString(), upTo.toString()],
  }
}
