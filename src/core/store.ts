import { InvalidInputError, StoreClosedError } from './errors.js'
import { PROCESSING, type ProcessingBackend } from './processing-port.js'
import type { Projection } from './projection-types.js'
import type { ChangeSignal } from './signal.js'
import { type SnapshotBackend, snapshotStore } from './snapshots.js'
import { startSubscription } from './subscription.js'
import type {
  AggregateOptions,
  AggregateResult,
  AppendOptions,
  AppendResult,
  DeleteMode,
  DeleteOptions,
  EventData,
  EventFilter,
  EventHandler,
  EventLocation,
  EventSchemaPort,
  EventStore,
  ExpectedRevision,
  Logger,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SnapshotStore,
  StoreLimits,
  SubscribeToAllOptions,
  SubscribeToStreamOptions,
  Subscription,
  SubscriptionStart,
} from './types.js'
import { isUuid } from './uuid.js'
import {
  checkExpectedRevision,
  checkReadAll,
  checkReadStream,
  checkStreamId,
  type PreparedEvent,
  prepareAppend,
} from './validation.js'

export interface StreamPageQuery {
  /** First revision to return (inclusive); undefined means the stream's start (or end, backwards). */
  from: bigint | undefined
  direction: 'forwards' | 'backwards'
  limit: number
}

/**
 * The port each storage adapter implements. Everything that does not touch storage (validation,
 * paging, folding, subscriptions) lives in the core, so all adapters share it.
 */
export interface StoreBackend {
  migrate(): Promise<void>
  /** Appends atomically, enforcing the expected revision and the id rules (see `decideAppend`). */
  append(streamId: string, events: PreparedEvent[], expected: ExpectedRevision): Promise<AppendResult>
  readStreamPage(streamId: string, query: StreamPageQuery): Promise<RecordedEvent[]>
  readAllPage(after: bigint, limit: number, filter: EventFilter | undefined): Promise<RecordedEvent[]>
  /** Position of the last event in the log, 0 when empty. */
  headPosition(): Promise<bigint>
  /** Revision of the stream's last visible event, undefined when it has none. */
  streamHead(streamId: string): Promise<bigint | undefined>
  deleteStream(streamId: string, mode: DeleteMode, expected: ExpectedRevision): Promise<void>
  close(): Promise<void>
  /** Fires after this process (or, where the backend can tell, any process) appended. */
  readonly changes: ChangeSignal
  /** How long a live subscription waits without a wake-up before it looks anyway. */
  readonly pollIntervalMs: number
  /** Optional: where an event id is stored (see `EventStore.locateEvent`). */
  locateEvent?(eventId: string): Promise<EventLocation | undefined>
  /** Optional: snapshot storage (see `EventStore.snapshots`). */
  readonly snapshots?: SnapshotBackend
  /** Optional: checkpoints, leases and parked events for processors (see `createProcessor`). */
  readonly processing?: ProcessingBackend
}

export interface StoreOptions {
  limits?: StoreLimits
  logger?: Logger
  /** Events fetched per query by reads and subscriptions. Default 1000. */
  pageSize?: number
  /**
   * A schema registry (`createSchemaRegistry`): appends are validated against it and stamped with
   * their schema version; every read, fold and subscription sees events upcast to current versions.
   */
  registry?: EventSchemaPort
  /**
   * Projections run inside each append's transaction, so their read model is never behind the log;
   * one that throws fails the append (INLINE_PROJECTION_FAILED). Their `setup` runs in `migrate()`.
   */
  inlineProjections?: readonly Projection<never>[]
}

/** What readers see of one stored event (after upcasting and the caller's type filter). */
type Expand = (stored: RecordedEvent) => RecordedEvent[]

class CoreEventStore implements EventStore {
  #closed = false
  #subscriptions = new Set<Subscription>()
  readonly #pageSize: number

  readonly snapshots: SnapshotStore | undefined
  readonly locateEvent: ((eventId: string) => Promise<EventLocation | undefined>) | undefined

  constructor(
    private readonly backend: StoreBackend,
    private readonly options: StoreOptions,
  ) {
    this.#pageSize = options.pageSize ?? 1000
    // Optional capabilities are present on the store exactly when the backend declares them.
    this.snapshots = backend.snapshots && snapshotStore(backend.snapshots, () => this.#open())
    this.locateEvent = backend.locateEvent && ((eventId) => this.#locate(eventId))
  }

  /** Hands processors the storage they need, when the backend has it. */
  [PROCESSING](): ProcessingBackend | undefined {
    this.#open()
    return this.backend.processing
  }

  async #locate(eventId: string): Promise<EventLocation | undefined> {
    this.#open()
    if (!isUuid(eventId)) throw new InvalidInputError('INVALID_EVENT_ID', 'eventId must be a UUID', 'eventId')
    return this.backend.locateEvent?.(eventId.toLowerCase())
  }

  async migrate(): Promise<void> {
    this.#open()
    await this.backend.migrate()
    const processing = this.backend.processing
    for (const { setup } of this.options.inlineProjections ?? []) {
      if (setup !== undefined && processing !== undefined)
        await processing.transaction(async (tx) => setup(tx.handle as never, { generation: 1 }))
    }
  }

  async appendToStream(streamId: string, events: EventData[], options?: AppendOptions): Promise<AppendResult> {
    this.#open()
    const expected = options?.expectedRevision ?? 'any'
    const registry = this.options.registry
    // Anything but a list goes straight to prepareAppend, which has its own error for it.
    const checked = registry !== undefined && Array.isArray(events) ? await registry.prepareAppend(events) : events
    const prepared = prepareAppend(streamId, checked, expected, this.options.limits)
    return this.backend.append(streamId, prepared, expected)
  }

  readStream(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent> {
    checkReadStream(streamId, options)
    const direction = options?.direction ?? 'forwards'
    const step = direction === 'forwards' ? 1n : -1n
    const { expand } = this.#view(undefined)
    // Backwards is the exact reverse of forwards, also among the events one stored event splits into.
    const ordered: Expand | undefined =
      expand === undefined || direction === 'forwards' ? expand : (stored) => expand(stored).reverse()
    return this.#paged(
      options?.maxCount,
      options?.fromRevision,
      (from, limit) =>
        this.backend
          .readStreamPage(streamId, { from, direction, limit })
          .then((page) => ({ page, next: page.length > 0 ? (page.at(-1) as RecordedEvent).revision + step : undefined })),
      ordered,
    )
  }

  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent> {
    checkReadAll(options)
    const { filter, expand } = this.#view(options?.filter)
    return this.#paged(
      options?.maxCount,
      options?.after ?? 0n,
      (after, limit) =>
        this.backend
          .readAllPage(after as bigint, limit, filter)
          .then((page) => ({ page, next: page.length > 0 ? (page.at(-1) as RecordedEvent).position : after })),
      expand,
    )
  }

  /**
   * Streams pages lazily so a reader of a million events holds one page at a time. Cursors follow
   * stored events; `maxCount` counts the events yielded, which upcasting may make more or fewer.
   */
  async *#paged(
    maxCount: number | undefined,
    start: bigint | undefined,
    fetch: (cursor: bigint | undefined, limit: number) => Promise<{ page: RecordedEvent[]; next: bigint | undefined }>,
    expand?: Expand,
  ): AsyncGenerator<RecordedEvent> {
    this.#open()
    let remaining = maxCount ?? Number.POSITIVE_INFINITY
    let limit = Math.min(this.#pageSize, remaining)
    if (start !== undefined && start < 0n) return
    // The next page is read while the caller works through this one: a catch-up costs about one
    // query's latency in all, not one per page.
    let pending: Promise<{ page: RecordedEvent[]; next: bigint | undefined }> | undefined = fetch(start, limit)
    while (pending !== undefined) {
      const { page, next } = await pending
      pending = undefined
      const full = page.length === limit
      const left = expand === undefined ? remaining - page.length : remaining
      if (full && left > 0 && (next === undefined || next >= 0n)) {
        limit = Math.min(this.#pageSize, left)
        pending = fetch(next, limit)
        // The caller may stop before it asks for this page; its failure must not go unobserved.
        pending.catch(() => {})
      }
      if (expand === undefined) {
        for (const event of page) yield event
        remaining -= page.length
      } else {
        for (const stored of page) {
          for (const event of expand(stored)) {
            yield event
            if (--remaining === 0) return
          }
        }
      }
      if (remaining <= 0) return
    }
  }

  /**
   * With a registry, reads see upcast events, and a type filter also matches the old names those
   * types were stored under: storage is asked for the wider set, and the upcast events are
   * filtered again by the types asked for.
   */
  #view(filter: EventFilter | undefined): { filter: EventFilter | undefined; expand: Expand | undefined } {
    const registry = this.options.registry
    if (registry === undefined) return { filter, expand: undefined }
    const types = filter?.eventTypes
    if (types === undefined) return { filter, expand: (stored) => registry.upcast(stored) }
    const wanted = new Set(types)
    return {
      filter: { ...filter, eventTypes: registry.storedTypesOf(types) },
      expand: (stored) => registry.upcast(stored).filter((event) => wanted.has(event.type)),
    }
  }

  async aggregateStream<State, E extends RecordedEvent = RecordedEvent>(
    streamId: string,
    options: AggregateOptions<State, E>,
  ): Promise<AggregateResult<State>> {
    const upTo = options.upTo
    if (upTo !== undefined && !isUpTo(upTo)) {
      throw new InvalidInputError('INVALID_ARGUMENT', 'upTo must be { revision: bigint } or { time: Date }', 'upTo')
    }
    let state = options.initialState()
    let revision: bigint | undefined
    for await (const event of this.readStream(streamId)) {
      if (upTo !== undefined && 'revision' in upTo && event.revision > upTo.revision) break
      if (upTo !== undefined && 'time' in upTo && event.recordedAt.getTime() > upTo.time.getTime()) break
      state = options.evolve(state, event as E)
      revision = event.revision
    }
    return { state, revision }
  }

  async deleteStream(streamId: string, options?: DeleteOptions): Promise<void> {
    this.#open()
    checkStreamId(streamId)
    const mode = options?.mode ?? 'soft'
    if (mode !== 'soft' && mode !== 'hard') {
      throw new InvalidInputError('INVALID_ARGUMENT', `mode must be 'soft' or 'hard'`, 'mode')
    }
    const expected = options?.expectedRevision ?? 'any'
    checkExpectedRevision(expected)
    await this.backend.deleteStream(streamId, mode, expected)
  }

  subscribeToAll(options: SubscribeToAllOptions): Subscription {
    this.#open()
    checkReadAll({ filter: options.filter })
    const from = checkStart(options.from)
    const { filter, expand } = this.#view(options.filter)
    return this.#track(
      startSubscription(
        {
          start: async () => (from === 'start' ? 0n : from === 'end' ? this.backend.headPosition() : from.after),
          fetch: (cursor, limit) => this.backend.readAllPage(cursor, limit, filter),
          cursorOf: (event) => event.position,
        },
        deliverEach(options.handler, expand),
        this.#subscriptionSettings(),
      ),
    )
  }

  subscribeToStream(streamId: string, options: SubscribeToStreamOptions): Subscription {
    this.#open()
    checkStreamId(streamId)
    const from = checkStart(options.from)
    return this.#track(
      startSubscription(
        {
          start: async () =>
            from === 'start' ? -1n : from === 'end' ? ((await this.backend.streamHead(streamId)) ?? -1n) : from.after,
          fetch: (cursor, limit) => this.backend.readStreamPage(streamId, { from: cursor + 1n, direction: 'forwards', limit }),
          cursorOf: (event) => event.revision,
        },
        deliverEach(options.handler, this.#view(undefined).expand),
        this.#subscriptionSettings(),
      ),
    )
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#subscriptions].map((sub) => sub.stop()))
    await this.backend.close()
  }

  #subscriptionSettings() {
    return {
      signal: this.backend.changes,
      pollIntervalMs: this.backend.pollIntervalMs,
      pageSize: this.#pageSize,
      logger: this.options.logger,
    }
  }

  #track(subscription: Subscription): Subscription {
    this.#subscriptions.add(subscription)
    subscription.done.finally(() => this.#subscriptions.delete(subscription)).catch(() => {})
    return subscription
  }

  #open() {
    if (this.#closed) throw new StoreClosedError()
  }
}

/**
 * Upcasting happens in the handler rather than in the fetch, so the loop keeps paging and
 * checkpointing *stored* events: the events one stored event reads as are delivered together
 * (stop() waits between stored events), the checkpoint passes a stored event only once all of them
 * were handled, and a stored event that reads as nothing still moves the subscription on.
 */
const deliverEach = (handler: EventHandler, expand: Expand | undefined): EventHandler =>
  expand === undefined
    ? handler
    : async (stored) => {
        for (const event of expand(stored)) await handler(event)
      }

const isUpTo = (upTo: unknown): boolean => {
  const value = upTo as Record<string, unknown>
  return (
    (typeof value.revision === 'bigint' && value.time === undefined) ||
    (value.time instanceof Date && !Number.isNaN(value.time.getTime()) && value.revision === undefined)
  )
}

function checkStart(from: SubscriptionStart | undefined): SubscriptionStart {
  if (from === undefined || from === 'start' || from === 'end') return from ?? 'start'
  if (typeof from === 'object' && from !== null && typeof from.after === 'bigint' && from.after >= -1n) return from
  throw new InvalidInputError('INVALID_ARGUMENT', `from must be 'start', 'end' or { after: bigint }`, 'from')
}

/** Wraps a storage backend in the full `EventStore` contract. Adapters call this; users call the adapters. */
export function createEventStore(backend: StoreBackend, options: StoreOptions = {}): EventStore {
  return new CoreEventStore(backend, options)
}
