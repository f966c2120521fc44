import {
  checkInlineProjections,
  decideAppend,
  decideDelete,
  Mutex,
  type Projection,
  recordedMetadata,
  runInlineProjections,
  type StoreBackend,
  type StreamPageQuery,
  type StreamState,
} from '../core/internal.js'
import { ChangeSignal } from '../core/signal.js'
import { createEventStore, type StoreOptions } from '../core/store.js'
import type {
  AppendResult,
  DeleteMode,
  EventFilter,
  EventLocation,
  EventStore,
  ExpectedRevision,
  RecordedEvent,
} from '../core/types.js'
import type { PreparedEvent } from '../core/validation.js'
import { MemoryProcessing, MemoryTx } from './processing.js'
import { MemorySnapshots } from './snapshots.js'

/** Stored as JSON text so readers get fresh copies and see exactly what a database would return. */
interface StoredEvent {
  id: string
  type: string
  data: string
  metadata: string
  streamId: string
  revision: bigint
  position: bigint
  recordedAt: number
}

const toRecorded = (e: StoredEvent): RecordedEvent => ({
  id: e.id,
  type: e.type,
  data: JSON.parse(e.data),
  metadata: recordedMetadata(e.metadata, e.id),
  streamId: e.streamId,
  revision: e.revision,
  position: e.position,
  recordedAt: new Date(e.recordedAt),
})

const matches = (e: StoredEvent, filter: EventFilter | undefined): boolean =>
  (filter?.eventTypes === undefined || filter.eventTypes.includes(e.type)) &&
  (filter?.streamPrefix === undefined || e.streamId.startsWith(filter.streamPrefix))

/** First index in a sorted list whose key is greater than `after` (keys: positions or revisions). */
function firstAfter(list: StoredEvent[], after: bigint, key: (e: StoredEvent) => bigint): number {
  let low = 0
  let high = list.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (key(list[mid] as StoredEvent) <= after) low = mid + 1
    else high = mid
  }
  return low
}

const byPosition = (e: StoredEvent) => e.position
const byRevision = (e: StoredEvent) => e.revision

class MemoryBackend implements StoreBackend {
  readonly changes = new ChangeSignal()
  readonly #appendLock = new Mutex()
  readonly pollIntervalMs = 60_000
  #log: StoredEvent[] = []
  #streams = new Map<string, { state: StreamState; events: StoredEvent[] }>()
  #byId = new Map<string, StoredEvent>()
  #lastPosition = 0n
  readonly processing = new MemoryProcessing(this.changes, () => this.headPosition())
  readonly snapshots = new MemorySnapshots((streamId) => this.#streams.get(streamId)?.state.status === 'live')

  async migrate(): Promise<void> {}

  constructor(private readonly inline: readonly Projection[]) {}

  append(streamId: string, events: PreparedEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (this.inline.length === 0) return this.#append(streamId, events, expected, undefined)
    // Inline projections await: appends go one at a time so none decides on a stream mid-write.
    return this.#appendLock.run(() =>
      this.#append(streamId, events, expected, async (written) => {
        const undo: (() => void)[] = []
        try {
          await runInlineProjections(this.inline, written, new MemoryTx(this.processing, undo))
        } catch (error) {
          for (const step of undo.reverse()) step()
          throw error
        }
      }),
    )
  }

  async #append(
    streamId: string,
    events: PreparedEvent[],
    expected: ExpectedRevision,
    project: ((written: RecordedEvent[]) => Promise<void>) | undefined,
  ): Promise<AppendResult> {
    const stream = this.#streams.get(streamId)
    const ids = events.map((e) => e.id)
    const found = ids.flatMap((id) => this.#byId.get(id) ?? [])
    const decision = decideAppend(streamId, expected, stream?.state, ids, found)
    if (!decision.write) return decision.result
    const entry = stream ?? { state: { revision: -1n, status: 'live' as const }, events: [] }
    const recordedAt = Date.now()
    const stored = events.map(
      (e, i): StoredEvent => ({
        ...e,
        streamId,
        revision: decision.firstRevision + BigInt(i),
        position: ++this.#lastPosition,
        recordedAt,
      }),
    )
    if (project !== undefined) {
      await project(stored.map(toRecorded))
      // Re-checked after the await: nothing else may have written this stream meanwhile (the lock).
    }
    for (const e of stored) this.#byId.set(e.id, e)
    this.#log.push(...stored)
    entry.events.push(...stored)
    entry.state = { revision: decision.firstRevision + BigInt(events.length - 1), status: 'live' }
    this.#streams.set(streamId, entry)
    this.changes.notify()
    const last = stored.at(-1) as StoredEvent
    return { nextExpectedRevision: last.revision, position: last.position }
  }

  async readStreamPage(streamId: string, { from, direction, limit }: StreamPageQuery): Promise<RecordedEvent[]> {
    const events = this.#streams.get(streamId)?.events ?? []
    if (direction === 'forwards') {
      const start = from === undefined ? 0 : firstAfter(events, from - 1n, byRevision)
      return events.slice(start, start + limit).map(toRecorded)
    }
    const end = from === undefined ? events.length : firstAfter(events, from, byRevision)
    return events
      .slice(Math.max(0, end - limit), end)
      .reverse()
      .map(toRecorded)
  }

  async readAllPage(after: bigint, limit: number, filter: EventFilter | undefined): Promise<RecordedEvent[]> {
    const page: RecordedEvent[] = []
    for (let i = firstAfter(this.#log, after, byPosition); i < this.#log.length && page.length < limit; i++) {
      const event = this.#log[i] as StoredEvent
      if (matches(event, filter)) page.push(toRecorded(event))
    }
    return page
  }

  async headPosition(): Promise<bigint> {
    return this.#lastPosition
  }

  async locateEvent(eventId: string): Promise<EventLocation | undefined> {
    const event = this.#byId.get(eventId)
    return event && { streamId: event.streamId, revision: event.revision, position: event.position }
  }

  async streamHead(streamId: string): Promise<bigint | undefined> {
    return this.#streams.get(streamId)?.events.at(-1)?.revision
  }

  deleteStream(streamId: string, mode: DeleteMode, expected: ExpectedRevision): Promise<void> {
    // Under the append lock: an append awaiting its inline projections must not see its stream vanish.
    return this.#appendLock.run(() => this.#delete(streamId, mode, expected))
  }

  #delete(streamId: string, mode: DeleteMode, expected: ExpectedRevision): void {
    const stream = this.#streams.get(streamId)
    decideDelete(streamId, expected, stream?.state)
    if (stream === undefined && mode === 'soft') return
    this.snapshots.forget(streamId)
    const removed = new Set(stream?.events ?? [])
    for (const e of removed) this.#byId.delete(e.id)
    if (removed.size > 0) this.#log = this.#log.filter((e) => !removed.has(e))
    const revision = stream?.state.revision ?? -1n
    this.#streams.set(streamId, {
      state: { revision, status: mode === 'soft' ? 'soft_deleted' : 'hard_deleted' },
      events: [],
    })
  }

  async close(): Promise<void> {}
}

export interface InMemoryEventStoreOptions extends StoreOptions {}

/**
 * An event store in process memory, with the same semantics as the SQL stores: for tests and demos.
 *
 * @example
 * const store = createInMemoryEventStore()
 * await store.appendToStream('account-1', [{ type: 'Opened', data: { owner: 'Ada' } }])
 */
export function createInMemoryEventStore(options: InMemoryEventStoreOptions = {}): EventStore {
  return createEventStore(new MemoryBackend(checkInlineProjections(options.inlineProjections) as Projection[]), options)
}
