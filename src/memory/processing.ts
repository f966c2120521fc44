import { type ChangeSignal, documentId, documentLimit, documentText, fieldConditions, Mutex } from '../core/internal.js'
import { leaseLost, partitionCountMismatch, processorRunning } from '../core/processing-errors.js'
import type {
  DocumentStore,
  ParkedListing,
  ParkedRecord,
  PartitionRow,
  PartitionState,
  ProcessingBackend,
  ProcessingTx,
} from '../core/processing-port.js'

type Undo = () => void

interface Processor {
  partitions: PartitionRow[]
  members: Map<string, number>
  parked: ParkedRecord[]
}

/**
 * Processing state in process memory. Transactions run one at a time and keep an undo log, so a
 * handler that throws leaves checkpoints, parked events and documents as they were.
 */
export class MemoryProcessing implements ProcessingBackend {
  readonly handle = undefined
  readonly pollIntervalMs = 60_000
  readonly #processors = new Map<string, Processor>()
  readonly #documents = new Map<string, Map<string, string>>()
  readonly #lock = new Mutex()

  constructor(
    readonly changes: ChangeSignal,
    readonly headPosition: () => Promise<bigint>,
  ) {}

  transaction<T>(work: (tx: ProcessingTx) => Promise<T>): Promise<T> {
    return this.#lock.run(async () => {
      const undo: Undo[] = []
      try {
        return await work(new MemoryTx(this, undo))
      } catch (error) {
        for (const step of undo.reverse()) step()
        throw error
      }
    })
  }

  processor(name: string): Processor {
    let found = this.#processors.get(name)
    if (found === undefined) {
      found = { partitions: [], members: new Map(), parked: [] }
      this.#processors.set(name, found)
    }
    return found
  }

  /** Every collection of a namespace, for a drop. */
  collectionsOf(namespace: string): [string, Map<string, string>][] {
    return [...this.#documents].filter(([key]) => key.startsWith(`${namespace}\u0000`))
  }

  forget(processor: string): Processor | undefined {
    const state = this.#processors.get(processor)
    this.#processors.delete(processor)
    return state
  }

  restore(processor: string, state: Processor): void {
    this.#processors.set(processor, state)
  }

  collection(namespace: string, collection: string): Map<string, string> {
    const key = `${namespace}\u0000${collection}`
    let found = this.#documents.get(key)
    if (found === undefined) {
      found = new Map()
      this.#documents.set(key, found)
    }
    return found
  }

  async ensurePartitions(processor: string, count: number, start: bigint): Promise<void> {
    const state = this.processor(processor)
    if (state.partitions.length === 0) {
      state.partitions = Array.from({ length: count }, (_, partition) => ({
        partition,
        position: start,
        owner: null,
        leaseUntil: 0,
      }))
    } else if (state.partitions.length !== count) throw partitionCountMismatch(processor, state.partitions.length, count)
  }

  async heartbeat(processor: string, member: string, leaseMs: number): Promise<string[]> {
    const state = this.processor(processor)
    const now = Date.now()
    state.members.set(member, now + leaseMs)
    for (const [name, until] of state.members) if (until < now) state.members.delete(name)
    for (const row of state.partitions) if (row.owner === member) row.leaseUntil = now + leaseMs
    return [...state.members.keys()].sort()
  }

  async rebalance(processor: string, member: string, wanted: readonly number[], leaseMs: number): Promise<PartitionState[]> {
    const now = Date.now()
    const want = new Set(wanted)
    const held: PartitionState[] = []
    for (const row of this.processor(processor).partitions) {
      if (want.has(row.partition) && (row.owner === null || row.owner === member || row.leaseUntil < now)) {
        row.owner = member
        row.leaseUntil = now + leaseMs
      } else if (!want.has(row.partition) && row.owner === member) row.owner = null
      if (row.owner === member) held.push({ partition: row.partition, position: row.position })
    }
    return held
  }

  async leave(processor: string, member: string): Promise<void> {
    const state = this.processor(processor)
    state.members.delete(member)
    for (const row of state.partitions) if (row.owner === member) row.owner = null
  }

  async partitions(processor: string): Promise<PartitionRow[]> {
    return this.processor(processor).partitions.map((row) => ({ ...row }))
  }

  async resetCheckpoints(processor: string, position: bigint, member: string): Promise<void> {
    const now = Date.now()
    const rows = this.processor(processor).partitions
    const busy = rows.find((row) => row.owner !== null && row.owner !== member && row.leaseUntil >= now)
    if (busy !== undefined) throw processorRunning(processor)
    for (const row of rows) row.position = position
  }

  async listParked(processor: string): Promise<ParkedListing[]> {
    const parked = this.processor(processor).parked
    return parked
      .filter((r) => r.status === 'parked')
      .map((r) => ({ ...r, held: parked.filter((h) => h.status === 'held' && h.streamId === r.streamId).length }))
      .sort((a, b) => (a.position < b.position ? -1 : 1))
  }

  async parkedStreams(processor: string, partitions: readonly number[]): Promise<string[]> {
    const set = new Set(partitions)
    const parked = this.processor(processor).parked
    return [...new Set(parked.filter((r) => r.status === 'parked' && set.has(r.partition)).map((r) => r.streamId))]
  }

  documents(namespace: string, collection: string): DocumentStore {
    return new MemoryDocuments(this.collection(namespace, collection), [])
  }
}

export class MemoryTx implements ProcessingTx {
  readonly handle = undefined

  constructor(
    private readonly backend: MemoryProcessing,
    private readonly undo: Undo[],
  ) {}

  async saveCheckpoints(processor: string, member: string, checkpoints: ReadonlyMap<number, bigint>): Promise<void> {
    const rows = this.backend.processor(processor).partitions
    for (const [partition, position] of checkpoints) {
      const row = rows[partition]
      if (row === undefined || row.owner !== member) throw leaseLost(processor, partition)
      const before = row.position
      row.position = position
      this.undo.push(() => {
        row.position = before
      })
    }
  }

  async lockStream(processor: string, streamId: string): Promise<boolean> {
    // Transactions already run one at a time here.
    return this.backend.processor(processor).parked.some((r) => r.streamId === streamId && r.status === 'parked')
  }

  async insertParked(processor: string, record: ParkedRecord): Promise<void> {
    const parked = this.backend.processor(processor).parked
    parked.push({ ...record })
    this.undo.push(() => {
      const at = parked.findIndex((r) => r.id === record.id)
      if (at >= 0) parked.splice(at, 1)
    })
  }

  async getParked(processor: string, id: string): Promise<ParkedRecord | undefined> {
    const found = this.backend.processor(processor).parked.find((r) => r.id === id)
    return found && { ...found }
  }

  async deleteParked(processor: string, id: string): Promise<void> {
    const parked = this.backend.processor(processor).parked
    const at = parked.findIndex((r) => r.id === id)
    if (at < 0) return
    const [removed] = parked.splice(at, 1)
    this.undo.push(() => parked.splice(at, 0, removed as ParkedRecord))
  }

  async recordFailure(processor: string, id: string, error: string): Promise<void> {
    const row = this.backend.processor(processor).parked.find((r) => r.id === id)
    if (row === undefined) return
    const before = { error: row.error, attempts: row.attempts }
    row.error = error
    row.attempts++
    this.undo.push(() => Object.assign(row, before))
  }

  async promoteNextHeld(processor: string, streamId: string): Promise<ParkedRecord | undefined> {
    const next = this.backend
      .processor(processor)
      .parked.filter((r) => r.streamId === streamId && r.status === 'held')
      .sort((a, b) => (a.position < b.position ? -1 : 1))[0]
    if (next === undefined) return undefined
    next.status = 'parked'
    this.undo.push(() => {
      next.status = 'held'
    })
    return { ...next }
  }

  documents(namespace: string, collection: string): DocumentStore {
    return new MemoryDocuments(this.backend.collection(namespace, collection), this.undo)
  }

  async dropDocuments(namespace: string): Promise<void> {
    for (const [, docs] of this.backend.collectionsOf(namespace)) {
      const before = new Map(docs)
      docs.clear()
      this.undo.push(() => {
        for (const [id, text] of before) docs.set(id, text)
      })
    }
  }

  async dropProcessor(processor: string): Promise<void> {
    const state = this.backend.forget(processor)
    if (state !== undefined) this.undo.push(() => this.backend.restore(processor, state))
  }
}

/** Stored as JSON text, so readers get copies and see what a database would give back. */
class MemoryDocuments implements DocumentStore {
  constructor(
    private readonly docs: Map<string, string>,
    private readonly undo: Undo[],
  ) {}

  async get(id: string): Promise<unknown> {
    const text = this.docs.get(documentId(id))
    return text === undefined ? undefined : JSON.parse(text)
  }

  async upsert(id: string, doc: unknown): Promise<void> {
    const text = documentText(id, doc)
    this.#remember(id)
    this.docs.set(id, text)
  }

  async delete(id: string): Promise<void> {
    this.#remember(documentId(id))
    this.docs.delete(id)
  }

  async find(where: Record<string, unknown>, options?: { limit?: number }): Promise<unknown[]> {
    const conditions = fieldConditions(where)
    const limit = documentLimit(options)
    const found = (await this.all()).filter(({ doc }) =>
      conditions.every(({ field, value }) => {
        const fields = doc as Record<string, unknown>
        return typeof doc === 'object' && doc !== null && field in fields && fields[field] === value
      }),
    )
    return found.slice(0, limit).map(({ doc }) => doc)
  }

  async all(options?: { limit?: number }): Promise<{ id: string; doc: unknown }[]> {
    const ids = [...this.docs.keys()].sort()
    return ids.slice(0, documentLimit(options)).map((id) => ({ id, doc: JSON.parse(this.docs.get(id) as string) }))
  }

  #remember(id: string) {
    const before = this.docs.get(id)
    this.undo.push(() => (before === undefined ? this.docs.delete(id) : this.docs.set(id, before)))
  }
}
