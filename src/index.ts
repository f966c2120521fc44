// The write side: deciders and command handling. Test helpers for deciders are in `eventfold/testing`.
export type { BackoffOptions } from './command/backoff.js'
export { commandEventId } from './command/command-ids.js'
export type { Decider, DomainEvent, RecordedOf, SnapshotContext, SnapshotPolicy } from './command/decider.js'
export { CommandRejectedError, rejectCommand } from './command/errors.js'
export type { CommandResult, HandleCommandOptions } from './command/handle-command.js'
export { handleCommand } from './command/handle-command.js'
// The event store.
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
// Processors: durable, partitioned, checkpointed consumers of the log.
export type { DocumentStore } from './core/processing-port.js'
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
  EventLocation,
  EventSchemaPort,
  EventStore,
  ExpectedRevision,
  JsonValue,
  Logger,
  Metadata,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  RecordedMetadata,
  Snapshot,
  SnapshotStore,
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
// Messaging between services: CloudEvents envelopes, the transport port, the in-memory transport.
// Broker transports are in `eventfold/rabbitmq`, `eventfold/nats` and `eventfold/redis`; a queue in tables in `eventfold/postgres`.
export type { BinaryMessage, Binding, IncomingBinaryMessage } from './messaging/binary-mode.js'
export { decodeBinary, encodeBinary } from './messaging/binary-mode.js'
export { currentMessage, runInMessageContext } from './messaging/context.js'
export type { CloudEvent, Message, OutgoingMessage } from './messaging/envelope.js'
export { createMessage, fromCloudEvent, toCloudEvent } from './messaging/envelope.js'
export {
  DeadLetterNotFoundError,
  MessageTooLargeError,
  PublishNotConfirmedError,
  TransportClosedError,
  TransportUnavailableError,
  UndecodableMessageError,
} from './messaging/errors.js'
export type { EventRelayOptions, EventToMessages } from './messaging/event-relay.js'
export { createEventRelay } from './messaging/event-relay.js'
export { createInMemoryTransport, InMemoryTransport } from './messaging/memory/transport.js'
export type { OutboxRelay, OutboxRelayOptions, OutboxRelayStats } from './messaging/outbox/relay.js'
export type {
  Consumer,
  DeadLetter,
  DeadLetterQueue,
  MessageHandler,
  PublishResult,
  ReceivedMessage,
  RetryPolicy as MessageRetryPolicy,
  StopOptions,
  SubscribeOptions,
  Transport,
  TransportCapabilities,
  TransportOptions,
} from './messaging/types.js'
export { partitionOf } from './processing/partitioning.js'
export { createProcessor } from './processing/processor.js'
export type {
  ParkedEvent,
  ParkedEvents,
  PartitionStats,
  Processor,
  ProcessorBatchHandler,
  ProcessorContext,
  ProcessorHandler,
  ProcessorOptions,
  ProcessorStart,
  ProcessorStats,
  RetryPolicy,
  WaitForOptions,
} from './processing/types.js'
// Projections: read models built from the log.
export type {
  AsyncProjection,
  AsyncProjectionOptions,
  GenerationInfo,
  Projection,
  ProjectionContext,
} from './projection/projection.js'
export { createAsyncProjection, defineProjection, readModelOf } from './projection/projection.js'
export type { RebuildOptions, RebuildProgress, RebuildResult } from './projection/rebuild.js'
// Event schemas: definitions and the registry a store takes. The tooling is in `eventfold/schema`.
export type {
  AnyEventDefinition,
  DefineEventOptions,
  EventDefinition,
  Replacement,
  RetiredEventDefinition,
  RetireEventOptions,
  Upcaster,
  Upcasters,
} from './schema/define.js'
export { defineEvent, retireEvent } from './schema/define.js'
export type { SchemaIssue } from './schema/errors.js'
export { InvalidEventError, SchemaDefinitionError, UnknownEventTypeError, UpcastError } from './schema/errors.js'
export type { JsonSchema, JsonSchemaConverter } from './schema/json-schema.js'
export type { CompatibilityMode } from './schema/modes.js'
export type { EventOf, SchemaRegistryOptions } from './schema/registry.js'
export { createSchemaRegistry, isSchemaRegistry, type SchemaRegistry } from './schema/registry.js'
export { SCHEMA_VERSION_KEY } from './schema/upcast.js'
