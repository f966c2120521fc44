import type { Database, Statement } from 'better-sqlite3'

const COLUMNS = 'position, event_id, stream_id, revision, type, data, metadata, recorded_at'

export interface EventRow {
  position: bigint
  event_id: string
  stream_id: string
  revision: bigint
  type: string
  data: string
  metadata: string
  recorded_at: bigint
}

export interface StreamRow {
  revision: bigint
  status: 'live' | 'soft_deleted' | 'hard_deleted'
}

export interface IdRow {
  event_id: string
  stream_id: string
  revision: bigint
  position: bigint
}

type Query<Row> = Statement<unknown[], Row>

export interface Statements {
  stream: Query<StreamRow>
  eventById: Query<IdRow>
  insertEvent: Query<unknown>
  upsertStream: Query<unknown>
  deleteStreamEvents: Query<unknown>
  readAll: Query<EventRow>
  readStreamForwards: Query<EventRow>
  readStreamBackwards: Query<EventRow>
  headPosition: Query<{ head: bigint | null }>
  streamHead: Query<{ head: bigint | null }>
}

/**
 * Every statement the store runs, prepared once. Integers come back as bigint (safeIntegers):
 * positions and revisions are 64-bit. Values are always bound, never spliced into the text.
 */
export function prepareStatements(db: Database): Statements {
  const prepare = <Row = unknown>(text: string) => db.prepare(text).safeIntegers(true) as Query<Row>
  return {
    stream: prepare<StreamRow>('SELECT revision, status FROM streams WHERE stream_id = ?'),
    // One indexed probe per id: cheaper than expanding a JSON list for the usual one or few ids.
    eventById: prepare<IdRow>('SELECT event_id, stream_id, revision, position FROM events WHERE event_id = ?'),
    insertEvent: prepare(
      `INSERT INTO events (event_id, stream_id, revision, type, data, metadata, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    upsertStream: prepare(
      `INSERT INTO streams (stream_id, revision, status) VALUES (?, ?, ?)
       ON CONFLICT (stream_id) DO UPDATE SET revision = excluded.revision, status = excluded.status`,
    ),
    deleteStreamEvents: prepare('DELETE FROM events WHERE stream_id = ?'),
    // Keyset pagination on the rowid: each page is a range scan, however long the log.
    // The optional filters are bound as NULL when absent so one plan serves every reader.
    readAll: prepare<EventRow>(
      `SELECT ${COLUMNS} FROM events
       WHERE position > ?
         AND (? IS NULL OR type IN (SELECT value FROM json_each(?)))
         AND (? IS NULL OR substr(stream_id, 1, length(?)) = ?)
       ORDER BY position LIMIT ?`,
    ),
    readStreamForwards: prepare<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?`,
    ),
    readStreamBackwards: prepare<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream_id = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`,
    ),
    headPosition: prepare<{ head: bigint | null }>('SELECT max(position) AS head FROM events'),
    streamHead: prepare<{ head: bigint | null }>('SELECT max(revision) AS head FROM events WHERE stream_id = ?'),
  }
}
