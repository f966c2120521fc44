import type { SnapshotRecord } from '../core/internal.js'
import type { SchemaNames } from './identifiers.js'
import type { Query } from './sql.js'

/** A snapshots row as the adapter's type parsers return it. */
export interface SnapshotRow {
  version: bigint
  revision: bigint
  first_revision: bigint
  position: bigint
  state: string
}

/** A point read on the primary key; no lock, a snapshot is only ever replaced whole. */
export function loadSnapshot(names: SchemaNames, streamId: string, name: string): Query {
  return {
    text: `SELECT version, revision, first_revision, position, state::text AS state
      FROM ${names.quoted}.snapshots WHERE stream_id = $1 AND name = $2`,
    values: [streamId, name],
  }
}

/**
 * Upsert, keeping a newer snapshot of the same version (an older handler may finish last), and
 * only for a stream that has events (a live one). No lock on the stream: taking the appenders' lock or the stream's row
 * lock would make appends wait for snapshot writes. So a delete committing while this runs can
 * leave a snapshot behind; loaders never trust it (its first_revision is gone) and the next save
 * replaces it.
 */
export function saveSnapshot(names: SchemaNames, streamId: string, name: string, record: SnapshotRecord): Query {
  const s = names.quoted
  return {
    text: `INSERT INTO ${s}.snapshots AS sn (stream_id, name, version, revision, first_revision, position, state)
      SELECT $1::text, $2::text, $3::int8, $4::int8, $5::int8, $6::int8, $7::json
      WHERE EXISTS (SELECT 1 FROM ${s}.events e WHERE e.stream_id = $1)
      ON CONFLICT (stream_id, name) DO UPDATE SET version = EXCLUDED.version, revision = EXCLUDED.revision,
        first_revision = EXCLUDED.first_revision, position = EXCLUDED.position, state = EXCLUDED.state, saved_at = now()
      WHERE sn.version <> EXCLUDED.version OR sn.revision <= EXCLUDED.revision`,
    values: [
      streamId,
      name,
      String(record.version),
      record.revision.toString(),
      record.firstRevision.toString(),
      record.position.toString(),
      record.state,
    ],
  }
}
