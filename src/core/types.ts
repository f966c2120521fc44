/** Any value that survives `JSON.stringify` → `JSON.parse` unchanged. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

export type Metadata = Record<string, JsonValue>

/** What a caller hands to `appendToStream`. */
export interface EventData<Type extends string = string, Data = JsonValue> {
  type: Type
  data: Data
  metadata?: Metadata
  /** A UUID; given by the caller it makes a retried append idempotent. Defaults to a new UUIDv7. */
  id?: string
}

/** Metadata as stored: the caller's keys plus the two ids every event carries. */
export type RecordedMetadata = Metadata & { correlationId: string; causationId: string }

export interface RecordedEvent<Type extends string = string, Data = JsonValue> {
  id: string
  type: Type
  data: Data
  metadata: RecordedMetadata
  streamId: string
  /** 0-based revision in its stream. */
  revision: bigint
  /** Global position in the log; strictly increasing in commit order. */
  position: bigint
  recordedAt: Date
}

/**
 * - `'any'`: no check.
 * - `'no_stream'`: the stream must not exist (a soft-deleted stream still exists for this check).
 * - `'stream_exists'`: the stream must exist.
 * - a bigint: the revision of the stream's last event.
 */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint

/** What a stream's revision really was when a check failed. */
export type ActualRevision = 'no_stream' | bigint

export interface AppendOptions {
  expectedRevision?: ExpectedRevision
}

export interface AppendResult {
  /** Revision of the last event appended: pass it as `expectedRevision` next time. */
  nextExpectedRevision: bigint
  /** Global position of the last event appended. */
  position: bigint
}

export type Direction = 'forwards' | 'backwards'

export interface ReadStreamOptions {
  /** First revision to return (inclusive). Defaults to the start, or the end when reading backwards. */
  fromRevision?: bigint
  direction?: Direction
  maxCount?: number
}

export interface EventFilter {
  eventTypes?: string[]
  streamPrefix?: string
}

export interface ReadAllOptions {
  /** Return events with a position strictly greater than this. */
  after?: bigint
  maxCount?: number
  filter?: EventFilter
}

export type UpTo = { revision: bigint } | { time: Date }

export interface AggregateOptions<State, E extends RecordedEvent = RecordedEvent> {
  initialState: () => State
  evolve: (state: State, event: E) => State
  /** Fold only the events up to this revision (inclusive) or recorded at or before this time. */
  upTo?: UpTo
}

export interface AggregateResult<State> {
  state: State
  /** Revision of the last event folded; `undefined` when no event was. */
  revision: bigint | undefined
}

export type DeleteMode = 'soft' | 'hard'

export interface DeleteOptions {
  mode?: DeleteMode
  expectedRevision?: ExpectedRevision
}

export type SubscriptionStart = 'start' | 'end' | { after: bigint }

export type EventHandler = (event: RecordedEvent) => Promise<void> | void

export interface SubscribeToAllOptions {
  from?: SubscriptionStart
  filter?: EventFilter
  handler: EventHandler
}

export interface SubscribeToStreamOptions {
  /** For a stream subscription, `{ after }` is a revision. */
  from?: SubscriptionStart
  handler: EventHandler
}

export interface Subscription {
  /** Resolves once everything committed when the subscription started has been delivered. */
  readonly caughtUp: Promise<void>
  /** Resolves when the subscription ends: after `stop()`, or rejects with the handler's error. */
  readonly done: Promise<void>
  /** The error that stopped the subscription, if any. */
  readonly error: unknown
  /** Position (or, for a stream subscription, revision) of the last event delivered. */
  readonly checkpoint: bigint | undefined
  stop(): Promise<void>
}

export interface EventStore {
  /** Creates or upgrades the store's tables; idempotent and safe to run from several processes at once. */
  migrate(): Promise<void>
  appendToStream(streamId: string, events: EventData[], options?: AppendOptions): Promise<AppendResult>
  readStream(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>
  aggregateStream<State, E extends RecordedEvent = RecordedEvent>(
    streamId: string,
    options: AggregateOptions<State, E>,
  ): Promise<AggregateResult<State>>
  deleteStream(streamId: string, options?: DeleteOptions): Promise<void>
  subscribeToAll(options: SubscribeToAllOptions): Subscription
  subscribeToStream(streamId: string, options: SubscribeToStreamOptions): Subscription
  close(): Promise<void>
  /**
   * Where the event with this id is stored, or undefined if no stored event has it (never written,
   * or deleted). Optional capability; every built-in store has it. `handleCommand` uses it to find
   * what an earlier handling of the same command appended.
   */
  locateEvent?(eventId: string): Promise<EventLocation | undefined>
  /** Snapshots of folded stream state, where the store can keep them (every built-in store can). */
  readonly snapshots?: SnapshotStore
}

/** Where one event is stored. */
export interface EventLocation {
  streamId: string
  revision: bigint
  position: bigint
}

/**
 * Folded state of a stream, kept so a loader can skip the events before it (see `handleCommand`).
 * A loader trusts it only while the stream still holds the event at `firstRevision`: deleting a
 * stream removes all its events, so no snapshot outlives a delete.
 */
export interface Snapshot {
  state: JsonValue
  /** Revision of the last event folded into `state`. */
  revision: bigint
  /** Global position of that event. */
  position: bigint
  /** Revision of the first event folded into `state`: where the fold that made it began. */
  firstRevision: bigint
  /** Version of the code that folded it (a decider's `version`); another version must not trust it. */
  version: number
}

/** Snapshot storage, one snapshot per stream and name (e.g. a decider's name). */
export interface SnapshotStore {
  load(streamId: string, name: string): Promise<Snapshot | undefined>
  /** Stores it unless a newer one (higher revision, same version) is there; a no-op for a deleted stream. */
  save(streamId: string, name: string, snapshot: Snapshot): Promise<void>
}

/** Optional sink for what the library would otherwise keep to itself. Library code never logs to the console. */
export interface Logger {
  debug?(message: string, context?: Record<string, unknown>): void
  warn?(message: string, context?: Record<string, unknown>): void
  error?(message: string, context?: Record<string, unknown>): void
}

export interface StoreLimits {
  /** Largest serialized `data` + `metadata` of one event, in bytes. Default 1 MiB. */
  maxEventBytes?: number
}

/**
 * What a store asks of a schema registry (`createSchemaRegistry`): check events on the way in and
 * turn stored events into current ones on the way out. The core calls it for every adapter alike.
 */
export interface EventSchemaPort {
  /**
   * The events of one append as they should be stored (validated, stamped with their schema
   * version), or a rejection before anything is written. May be async: Standard Schema allows it.
   */
  prepareAppend(events: readonly EventData[]): EventData[] | Promise<EventData[]>
  /** What readers see of one stored event: usually one event, after a split several, possibly none. */
  upcast(event: RecordedEvent): RecordedEvent[]
  /** The stored type names whose events can read as one of `types` (the types, their old names, split sources). */
  storedTypesOf(types: readonly string[]): string[]
}
