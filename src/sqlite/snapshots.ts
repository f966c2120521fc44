import type { SnapshotBackend, SnapshotRecord } from '../core/internal.js'
import type { Statements } from './sql.js'

/** The SQLite snapshot capability; statements are shared with the store (see `sql.ts`). */
export class SqliteSnapshots implements SnapshotBackend {
  constructor(
    private readonly statements: () => Statements,
    private readonly exclusive: <T>(work: () => T) => Promise<T>,
  ) {}

  async load(streamId: string, name: string): Promise<SnapshotRecord | undefined> {
    const row = this.statements().loadSnapshot.get(streamId, name)
    if (row === undefined) return undefined
    const { version, revision, first_revision, position, state } = row
    return { version: Number(version), revision, firstRevision: first_revision, position, state }
  }

  async save(streamId: string, name: string, record: SnapshotRecord): Promise<void> {
    const { version, revision, firstRevision, position, state } = record
    const saveSnapshot = this.statements().saveSnapshot
    await this.exclusive(() =>
      saveSnapshot.run({ stream: streamId, name, version, revision, firstRevision, position, state, savedAt: Date.now() }),
    )
  }
}
