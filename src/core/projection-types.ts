import type { DocumentStore } from './processing-port.js'
import type { EventFilter, RecordedEvent } from './types.js'

export interface ProjectionContext<Tx = unknown> {
  /**
   * The open transaction the read model is written in: a `pg` client on PostgreSQL, the
   * better-sqlite3 `Database` on SQLite, `undefined` in memory. For an async projection it commits
   * with the checkpoint; for an inline one, with the append itself.
   */
  readonly tx: Tx
  /** A document collection of this projection's read model, written in the same transaction. */
  documents<Doc = unknown>(collection: string): DocumentStore<Doc>
}

/**
 * A read model built from the log. `handle` gets events in log order, many at a time, and writes
 * through `ctx.tx` (ordinary tables) or `ctx.documents` (the document helper).
 */
export interface Projection<Tx = unknown> {
  name: string
  /** Only these events reach `handle`. */
  filter?: EventFilter
  /** Creates what the read model needs (idempotent), in a transaction: before the first batch, or in `migrate()` when inline. */
  setup?: (tx: Tx) => Promise<void> | void
  handle: (events: RecordedEvent[], ctx: ProjectionContext<Tx>) => Promise<void> | void
}

/** Where a projection's documents live, whichever way it runs. */
export const projectionNamespace = (name: string) => `projection:${name}`
