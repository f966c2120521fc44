export type { ErrorCode } from './core/errors.js'
export {
  DuplicateEventIdError,
  EventfoldError,
  EventTooLargeError,
  InvalidInputError,
  isEventfoldError,
  StoreClosedError,
  StoreUnavailableError,
  StreamDeletedError,
  SubscriptionHandlerError,
  WrongExpectedRevisionError,
} from './core/errors.js'
export type { StoreOptions } from './core/store.js'
export type {
  ActualRevision,
  AggregateOptions,
  AggregateResult,
  AppendOptions,
  AppendResult,
  DeleteMode,
  DeleteOptions,
  Direction,
  EventData,
  EventFilter,
  EventHandler,
  EventStore,
  ExpectedRevision,
  JsonValue,
  Logger,
  Metadata,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  RecordedMetadata,
  StoreLimits,
  SubscribeToAllOptions,
  SubscribeToStreamOptions,
  Subscription,
  SubscriptionStart,
  UpTo,
} from './core/types.js'
export { uuidv7 } from './core/uuid.js'
export type { InMemoryEventStoreOptions } from './memory/event-store.js'
export { createInMemoryEventStore } from './memory/event-store.js'
