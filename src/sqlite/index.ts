export type { SqliteEventStoreOptions } from './event-store.js'
export { createSqliteEventStore } from './event-store.js'
export type { SqliteInboxOptions, SqliteOutboxOptions } from './outbox/outbox.js'
export { createSqliteInbox, createSqliteOutbox, SqliteInbox, SqliteOutbox } from './outbox/outbox.js'
