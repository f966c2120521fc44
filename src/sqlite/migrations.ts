import type { Database } from 'better-sqlite3'

export interface Migration {
  version: number
  up: string
}

/** Append-only: a released migration is never edited, only followed by a new one. */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    up: `
      -- AUTOINCREMENT: positions must never be reused, even after the newest events are deleted,
      -- or a subscriber past position P could later meet a new event at P.
      CREATE TABLE events (
        position    INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id    TEXT    NOT NULL UNIQUE,
        stream_id   TEXT    NOT NULL,
        revision    INTEGER NOT NULL,
        type        TEXT    NOT NULL,
        data        TEXT    NOT NULL,
        metadata    TEXT    NOT NULL,
        recorded_at INTEGER NOT NULL,
        UNIQUE (stream_id, revision)
      );
      CREATE TABLE streams (
        stream_id TEXT    PRIMARY KEY,
        revision  INTEGER NOT NULL,
        status    TEXT    NOT NULL CHECK (status IN ('live', 'soft_deleted', 'hard_deleted'))
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    up: `
      -- Folded state of a stream, one per stream and name (handleCommand's snapshots). first_revision
      -- lets a loader check that the events it was folded from are still there (no delete since).
      CREATE TABLE snapshots (
        stream_id      TEXT    NOT NULL,
        name           TEXT    NOT NULL,
        version        INTEGER NOT NULL,
        revision       INTEGER NOT NULL,
        first_revision INTEGER NOT NULL,
        position       INTEGER NOT NULL,
        state          TEXT    NOT NULL,
        saved_at       INTEGER NOT NULL,
        PRIMARY KEY (stream_id, name)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    up: `
      -- Processors: one row per partition holds its checkpoint and its lease, so a checkpoint is
      -- saved only by the lease holder (the UPDATE checks the owner) and moves with the lease.
      CREATE TABLE processor_partitions (
        processor   TEXT    NOT NULL,
        partition   INTEGER NOT NULL,
        position    INTEGER NOT NULL,
        owner       TEXT,
        lease_until INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (processor, partition)
      ) WITHOUT ROWID;
      CREATE TABLE processor_members (
        processor  TEXT    NOT NULL,
        member     TEXT    NOT NULL,
        seen_until INTEGER NOT NULL,
        PRIMARY KEY (processor, member)
      ) WITHOUT ROWID;
      -- Parked events and the events of their streams held back behind them.
      CREATE TABLE processor_parked (
        processor TEXT    NOT NULL,
        id        TEXT    NOT NULL,
        stream_id TEXT    NOT NULL,
        partition INTEGER NOT NULL,
        position  INTEGER NOT NULL,
        event_id  TEXT    NOT NULL,
        status    TEXT    NOT NULL CHECK (status IN ('parked', 'held')),
        error     TEXT    NOT NULL,
        attempts  INTEGER NOT NULL,
        parked_at INTEGER NOT NULL,
        PRIMARY KEY (processor, id)
      ) WITHOUT ROWID;
      CREATE INDEX processor_parked_by_stream ON processor_parked (processor, stream_id, status, position);
      -- The document read-model helper: JSON documents by namespace (a projection), collection and id.
      CREATE TABLE documents (
        namespace  TEXT NOT NULL,
        collection TEXT NOT NULL,
        id         TEXT NOT NULL,
        doc        TEXT NOT NULL,
        PRIMARY KEY (namespace, collection, id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    // A stream's revision now comes from the events' (stream_id, revision) index; writing a
    // streams row on every append cost a third of an append. Only tombstones stay: a deleted
    // stream's last revision (revisions continue after a soft delete) and its delete mode.
    up: `DELETE FROM streams WHERE status = 'live';`,
  },
]

/**
 * Applies pending migrations. BEGIN IMMEDIATE takes SQLite's write lock up front, so a second
 * process migrating at the same time waits (busy_timeout) and then finds the work done.
 */
export function migrate(db: Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS eventfold_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)')
  const applied = db.prepare('SELECT version FROM eventfold_migrations WHERE version = ?').pluck()
  const record = db.prepare('INSERT INTO eventfold_migrations (version, applied_at) VALUES (?, ?)')
  const run = db.transaction(() => {
    for (const migration of migrations) {
      if (applied.get(migration.version) !== undefined) continue
      db.exec(migration.up)
      record.run(migration.version, Date.now())
    }
  })
  run.immediate()
}
