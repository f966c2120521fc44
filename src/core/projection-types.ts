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
  /**
   * Which build of the read model this is: 1, then one more per rebuild. A projection writing its
   * own tables names them by it (e.g. `summaries_2`) so a rebuild can fill new ones beside the live.
   */
  readonly generation: number
}

export interface GenerationInfo {
  generation: number
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
  setup?: (tx: Tx, info: GenerationInfo) => Promise<void> | void
  /** Drops what `setup` created for a generation a rebuild replaced. Documents are dropped for you. */
  teardown?: (tx: Tx, info: GenerationInfo) => Promise<void> | void
  handle: (events: RecordedEvent[], ctx: ProjectionContext<Tx>) => Promise<void> | void
}

/**
 * Where a projection's documents live (and the name of the processor that builds them). The first
 * generation has the plain name, so a projection never rebuilt keeps it forever.
 */
export const projectionNamespace = (name: string, generation = 1) =>
  generation === 1 ? `projection:${name}` : `projection:${name}#${generation}`
