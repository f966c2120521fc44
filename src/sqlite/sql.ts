import type { Database, Statement } from 'better-sqlite3'
import type { EventRow } from '../core/internal.js'

// In the column order of core's EventRow: event reads return arrays.
const COLUMNS = 'position, event_id, stream_id, revision, type, data, metadata, recorded_at'

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

export interface SnapshotRow {
  version: bigint
  revision: bigint
  first_revision: bigint
  position: bigint
  state: string
}

type Query<Row> = Statement<unknown[], Row>

export interface Statements {
  tombstone: Query<StreamRow>
  eventById: Query<IdRow>
  insertEvent: Query<unknown>
  upsertTombstone: Query<unknown>
  deleteStreamEvents: Query<unknown>
  readAll: Query<EventRow>
  readStreamForwards: Query<EventRow>
  readStreamBackwards: Query<EventRow>
  headPosition: Query<{ head: bigint | null }>
  streamHead: Query<{ head: bigint | null }>
  loadSnapshot: Query<SnapshotRow>
  saveSnapshot: Query<unknown>
  deleteSnapshots: Query<unknown>
}

/**
 * Every statement the store runs, prepared once. Integers come back as bigint (safeIntegers):
 * positions and revisions are 64-bit. Values are always bound, never spliced into the text.
 */
export function prepareStatements(db: Database): Statements {
  const prepare = <Row = unknown>(text: string) => db.prepare(text).safeIntegers(true) as Query<Row>
  const prepareRows = (text: string) => db.prepare(text).safeIntegers(true).raw(true) as Query<EventRow>
  return {
    tombstone: prepare<StreamRow>('SELECT revision, status FROM streams WHERE stream_id = ?'),
    // One indexed probe per id: cheaper than expanding a JSON list for the usual one or few ids.
    eventById: prepare<IdRow>('SELECT event_id, stream_id, revision, position FROM events WHERE event_id = ?'),
    insertEvent: prepare(
      `INSERT INTO events (event_id, stream_id, revision, type, data, metadata, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    upsertTombstone: prepare(
      `INSERT INTO streams (stream_id, revision, status) VALUES (?, ?, ?)
       ON CONFLICT (stream_id) DO UPDATE SET revision = excluded.revision, status = excluded.status`,
    ),
    deleteStreamEvents: prepare('DELETE FROM events WHERE stream_id = ?'),
    // Keyset pagination on the rowid: each page is a range scan, however long the log.
    // The optional filters are bound as NULL when absent so one plan serves every reader.
    readAll: prepareRows(
      `SELECT ${COLUMNS} FROM events
       WHERE position > ?
         AND (? IS NULL OR type IN (SELECT value FROM json_each(?)))
         AND (? IS NULL OR substr(stream_id, 1, length(?)) = ?)
       ORDER BY position LIMIT ?`,
    ),
    readStreamForwards: prepareRows(
      `SELECT ${COLUMNS} FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?`,
    ),
    readStreamBackwards: prepareRows(
      `SELECT ${COLUMNS} FROM events WHERE stream_id = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`,
    ),
    headPosition: prepare<{ head: bigint | null }>('SELECT max(position) AS head FROM events'),
    streamHead: prepare<{ head: bigint | null }>('SELECT max(revision) AS head FROM events WHERE stream_id = ?'),
    loadSnapshot: prepare<SnapshotRow>(
      'SELECT version, revision, first_revision, position, state FROM snapshots WHERE stream_id = ? AND name = ?',
    ),
    // One statement, so one write lock: a delete (its own IMMEDIATE transaction) lands wholly before
    // it, and then the stream is not live and nothing is saved, or wholly after, and forgets it.
    // A newer snapshot of the same version is kept: an older handler may finish last.
    saveSnapshot: prepare(
      `INSERT INTO snapshots (stream_id, name, version, revision, first_revision, position, state, saved_at)
       SELECT $stream, $name, $version, $revision, $firstRevision, $position, $state, $savedAt
       WHERE EXISTS (SELECT 1 FROM events WHERE stream_id = $stream)
       ON CONFLICT (stream_id, name) DO UPDATE SET
         version = excluded.version, revision = excluded.revision, first_revision = excluded.first_revision,
         position = excluded.position, state = excluded.state, saved_at = excluded.saved_at
       WHERE snapshots.version <> excluded.version OR snapshots.revision <= excluded.revision`,
    ),
    deleteSnapshots: prepare('DELETE FROM snapshots WHERE stream_id = ?'),
  }
}
