import {
  checkInlineProjections,
  createEventStore,
  InvalidInputError,
  type Projection,
  type StoreOptions,
} from '../core/internal.js'
import type { EventStore } from '../core/types.js'
import { PostgresBackend } from './event-store.js'
import { schemaNames } from './identifiers.js'

export type { PostgresTransport, PostgresTransportOptions } from './transport/index.js'
export { createPostgresTransport } from './transport/index.js'

export interface PostgresEventStoreOptions extends StoreOptions {
  /** e.g. `postgres://user:password@host:5432/db`; add `?application_name=…` to tag the connections. */
  connectionString: string
  /** Schema holding the store's tables; created by `migrate()`. Default `'eventfold'`. */
  schema?: string
  /** Most connections the store opens at once, besides one for notifications. Default 10. */
  poolSize?: number
}

/**
 * An event store in PostgreSQL. Appends are group-committed, reads are keyset
 * paginated, and live subscriptions are pushed with LISTEN/NOTIFY, across processes.
 * Call `migrate()` once at start-up; it is safe to run from several processes at once.
 *
 * @example
 * const store = createPostgresEventStore({ connectionString: process.env.DATABASE_URL! })
 * await store.migrate()
 * await store.appendToStream('account-1', [{ type: 'Opened', data: { owner: 'Ada' } }])
 * await store.close()
 */
export function createPostgresEventStore(options: PostgresEventStoreOptions): EventStore {
  const { connectionString, schema = 'eventfold', poolSize = 10, ...storeOptions } = options
  if (typeof connectionString !== 'string' || connectionString === '') {
    throw new InvalidInputError('INVALID_ARGUMENT', 'connectionString must be a non-empty string', 'connectionString')
  }
  if (!Number.isSafeInteger(poolSize) || poolSize < 1) {
    throw new InvalidInputError('INVALID_ARGUMENT', `poolSize must be a whole number ≥ 1, got ${String(poolSize)}`, 'poolSize')
  }
  const names = schemaNames(schema)
  const inline = checkInlineProjections(options.inlineProjections) as readonly Projection[]
  const backend = new PostgresBackend({ connectionString, names, poolSize, logger: options.logger, inline })
  return createEventStore(backend, storeOptions)
}
export type { InboxWork, PostgresInboxOptions } from './outbox/inbox.js'
export { createPostgresInbox, PostgresInbox } from './outbox/inbox.js'
export type { PostgresOutboxOptions, Queryable } from './outbox/outbox.js'
export { createPostgresOutbox, PostgresOutbox } from './outbox/outbox.js'
