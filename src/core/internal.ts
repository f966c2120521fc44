// What storage adapters build on. Not part of the public API of `eventfold`.

export type { StoredEventRef, StreamState } from './append-rules.js'
export { actualRevision, checkRevision, decideAppend, decideDelete } from './append-rules.js'
export { EventfoldError, InvalidInputError, isEventfoldError, StoreUnavailableError } from './errors.js'
export { ChangeSignal } from './signal.js'
export type { SnapshotBackend, SnapshotRecord } from './snapshots.js'
export type { StoreBackend, StoreOptions, StreamPageQuery } from './store.js'
export { createEventStore } from './store.js'
export type { PreparedEvent } from './validation.js'
