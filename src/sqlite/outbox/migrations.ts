import type { Database } from 'better-sqlite3'

interface Migration {
  version: number
  up: string
}

/**
 * The outbox and inbox tables, in whatever SQLite database the service keeps its own state (the
 * point is to write them in its transactions), so they have a migration history of their own.
 * Append only: a released version is never edited.
 */
const migrations: readonly Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE eventfold_outbox (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id    TEXT    NOT NULL,
        partition_key TEXT,
        message       TEXT    NOT NULL,
        created_at    INTEGER NOT NULL,
        sent_at       INTEGER
      );
      CREATE INDEX eventfold_outbox_unsent ON eventfold_outbox (seq) WHERE sent_at IS NULL;
      CREATE INDEX eventfold_outbox_sent ON eventfold_outbox (sent_at) WHERE sent_at IS NOT NULL;
      -- One relay publishes at a time (SQLite has no row locks to share the work by key): it holds
      -- this lease and renews it; another takes over when it lapses.
      CREATE TABLE eventfold_outbox_lease (
        name        TEXT    PRIMARY KEY,
        owner       TEXT    NOT NULL,
        lease_until INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE eventfold_inbox (
        consumer    TEXT    NOT NULL,
        message_id  TEXT    NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (consumer, message_id)
      ) WITHOUT ROWID;
      CREATE INDEX eventfold_inbox_received ON eventfold_inbox (received_at);
    `,
  },
]

/** BEGIN IMMEDIATE: a second process migrating at the same time waits, then finds the work done. */
export function migrateMessaging(db: Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS eventfold_messaging_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)')
  const applied = db.prepare('SELECT version FROM eventfold_messaging_migrations WHERE version = ?').pluck()
  const record = db.prepare('INSERT INTO eventfold_messaging_migrations (version, applied_at) VALUES (?, ?)')
  db.transaction(() => {
    for (const migration of migrations) {
      if (applied.get(migration.version) !== undefined) continue
      db.exec(migration.up)
      record.run(migration.version, Date.now())
    }
  }).immediate()
}
