export type { SqliteEventStoreOptions } from './event-store.js'
export { createSqliteEventStore } from './event-store.js'
