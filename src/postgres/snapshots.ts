import type { SnapshotBackend, SnapshotRecord } from '../core/internal.js'
import type { SchemaNames } from './identifiers.js'
import { loadSnapshot, type SnapshotRow, saveSnapshot } from './snapshot-sql.js'
import type { Query } from './sql.js'

type Run = <Row extends object>(query: Query) => Promise<Row[]>

/** The PostgreSQL snapshot capability: SQL in `snapshot-sql.ts`, run through the store's pool. */
export class PostgresSnapshots implements SnapshotBackend {
  constructor(
    private readonly names: SchemaNames,
    private readonly run: Run,
  ) {}

  async load(streamId: string, name: string): Promise<SnapshotRecord | undefined> {
    const [row] = await this.run<SnapshotRow>(loadSnapshot(this.names, streamId, name))
    if (row === undefined) return undefined
    const { version, revision, first_revision, position, state } = row
    return { version: Number(version), revision, firstRevision: first_revision, position, state }
  }

  async save(streamId: string, name: string, record: SnapshotRecord): Promise<void> {
    await this.run(saveSnapshot(this.names, streamId, name, record))
  }
}
