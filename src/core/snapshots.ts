import { InvalidInputError } from './errors.js'
import type { Snapshot, SnapshotStore } from './types.js'
import { checkStreamId, toJson } from './validation.js'

/** A snapshot as a backend stores it: the state already checked and serialized to JSON text by the core. */
export interface SnapshotRecord {
  state: string
  revision: bigint
  position: bigint
  firstRevision: bigint
  version: number
}

/**
 * The optional snapshot capability of a storage backend, keyed by stream and name. A backend that
 * declares it also forgets a stream's snapshots when the stream is deleted (hygiene: readers never
 * trust a snapshot past a delete anyway, see `Snapshot.firstRevision`).
 */
export interface SnapshotBackend {
  load(streamId: string, name: string): Promise<SnapshotRecord | undefined>
  /**
   * Stores the snapshot unless the one already stored is newer (a higher revision from the same
   * version), and does nothing for a stream that is deleted or was never written.
   */
  save(streamId: string, name: string, record: SnapshotRecord): Promise<void>
}

const MAX_NAME_LENGTH = 200

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH || !name.isWellFormed()) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      `a snapshot name must be a non-empty string of at most ${MAX_NAME_LENGTH} characters`,
      'name',
    )
  }
}

const isRevision = (value: unknown): value is bigint => typeof value === 'bigint' && value >= 0n

function checkSnapshot(snapshot: Snapshot): void {
  const fail = (field: string, why: string): never => {
    throw new InvalidInputError('INVALID_ARGUMENT', `snapshot.${field} ${why}`, `snapshot.${field}`)
  }
  if (typeof snapshot !== 'object' || snapshot === null) fail('', 'must be an object')
  if (!isRevision(snapshot.revision)) fail('revision', 'must be a bigint ≥ 0')
  if (!isRevision(snapshot.position)) fail('position', 'must be a bigint ≥ 0')
  if (!isRevision(snapshot.firstRevision) || snapshot.firstRevision > snapshot.revision) {
    fail('firstRevision', 'must be a bigint between 0 and revision')
  }
  if (!Number.isSafeInteger(snapshot.version)) fail('version', 'must be a whole number')
}

/** The `EventStore.snapshots` a store exposes over its backend's capability: checks in, JSON out. */
export function snapshotStore(backend: SnapshotBackend, assertOpen: () => void): SnapshotStore {
  return {
    async load(streamId, name) {
      assertOpen()
      checkStreamId(streamId)
      checkName(name)
      const record = await backend.load(streamId, name)
      if (record === undefined) return undefined
      const { state, ...rest } = record
      return { ...rest, state: JSON.parse(state) }
    },
    async save(streamId, name, snapshot) {
      assertOpen()
      checkStreamId(streamId)
      checkName(name)
      checkSnapshot(snapshot)
      const { revision, position, firstRevision, version } = snapshot
      const state = toJson(snapshot.state, 'snapshot.state', 'INVALID_ARGUMENT')
      await backend.save(streamId, name, { state, revision, position, firstRevision, version })
    },
  }
}
