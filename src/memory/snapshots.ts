import type { SnapshotBackend, SnapshotRecord } from '../core/internal.js'

/** Snapshots in process memory: one map of names per stream, so a delete forgets them all at once. */
export class MemorySnapshots implements SnapshotBackend {
  readonly #byStream = new Map<string, Map<string, SnapshotRecord>>()

  constructor(private readonly isLive: (streamId: string) => boolean) {}

  async load(streamId: string, name: string): Promise<SnapshotRecord | undefined> {
    const record = this.#byStream.get(streamId)?.get(name)
    return record && { ...record }
  }

  async save(streamId: string, name: string, record: SnapshotRecord): Promise<void> {
    if (!this.isLive(streamId)) return
    const names = this.#byStream.get(streamId) ?? new Map<string, SnapshotRecord>()
    const stored = names.get(name)
    if (stored !== undefined && stored.version === record.version && stored.revision > record.revision) return
    names.set(name, { ...record })
    this.#byStream.set(streamId, names)
  }

  /** Called by the store's delete: a deleted stream keeps no snapshot. */
  forget(streamId: string): void {
    this.#byStream.delete(streamId)
  }
}
