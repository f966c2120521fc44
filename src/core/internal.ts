// What storage adapters build on. Not part of the public API of `eventfold`.
export { actualRevision, checkRevision, decideAppend, decideDelete } from './append-rules.js'
export type { StoredEventRef, StreamState } from './append-rules.js'
export { EventfoldError, StoreUnavailableError, InvalidInputError } from './errors.js'
export { ChangeSignal } from './signal.js'
export { createEventStore } from './store.js'
export type { StoreBackend, StoreOptions, StreamPageQuery } from './store.js'
export type { PreparedEvent } from './validation.js'
