import { isEventfoldError } from '../core/errors.js'
import type { AppendResult } from '../core/types.js'
import { type AppendRow, toAppendOutcome } from './append-outcome.js'
import type { AppendRequest } from './sql.js'

interface Pending extends AppendRequest {
  bytes: number
  resolve: (result: AppendResult) => void
  reject: (error: unknown) => void
}

/** Sends one batch in one round trip and returns one row per request, in order. */
export type BatchSender = (requests: readonly AppendRequest[]) => Promise<AppendRow[]>

// One batch at a time. Every batch waits for the same lock, so a second one in flight only splits
// the queue into two batches that each pay the fixed cost of a call. Measured at 32 writers:
// 15,300 events/s with one in flight, 11,800 with two, 9,000 with three.
const MAX_IN_FLIGHT = 1
const MAX_BATCH_EVENTS = 1000
const MAX_BATCH_BYTES = 8 * 1024 * 1024

/**
 * Group commit: appends queue up and go out together, one function call per batch. Nothing waits
 * on a timer: a batch leaves as soon as a slot is free, so under no load an append goes alone and
 * under load the queue that built up during the last round trip becomes the next batch.
 * Appends are applied in call order: one batch at a time, each in the order its appends queued.
 */
export class Appender {
  /** Internal counters for tests: batches sent and requests carried. */
  readonly stats = { batches: 0, requests: 0 }
  #queue: Pending[] = []
  #inFlight = 0
  #scheduled = false
  #idle: (() => void)[] = []

  constructor(
    private readonly send: BatchSender,
    private readonly onWritten: () => void,
  ) {}

  append(request: AppendRequest): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      const bytes = request.events.reduce((sum, e) => sum + e.data.length + e.metadata.length, 0)
      this.#queue.push({ ...request, bytes, resolve, reject })
      this.#schedule()
    })
  }

  /** Resolves once every append queued so far has settled. */
  drain(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  // A microtask, not a timer: appends made in the same tick share a batch at no added latency.
  #schedule() {
    if (this.#scheduled) return
    this.#scheduled = true
    queueMicrotask(() => {
      this.#scheduled = false
      this.#pump()
    })
  }

  #pump() {
    while (this.#inFlight < MAX_IN_FLIGHT && this.#queue.length > 0) {
      const batch = this.#take()
      this.#inFlight++
      void this.#flush(batch).finally(() => {
        this.#inFlight--
        this.#pump()
        if (this.#queue.length === 0 && this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake()
      })
    }
  }

  #take(): Pending[] {
    let events = 0
    let bytes = 0
    let count = 0
    for (const next of this.#queue) {
      const fits = events + next.events.length <= MAX_BATCH_EVENTS && bytes + next.bytes <= MAX_BATCH_BYTES
      if (count > 0 && !fits) break
      events += next.events.length
      bytes += next.bytes
      count++
    }
    return this.#queue.splice(0, count)
  }

  async #flush(batch: Pending[]): Promise<void> {
    this.stats.batches++
    this.stats.requests += batch.length
    let rows: AppendRow[]
    try {
      rows = await this.send(batch)
    } catch (error) {
      // A lost connection leaves the outcome unknown: every request in the batch must hear so.
      // Any other error rolled the whole batch back; isolate the culprit by going one by one.
      if (batch.length > 1 && !isEventfoldError(error, 'STORE_UNAVAILABLE')) {
        for (const request of batch) await this.#flush([request])
        return
      }
      for (const request of batch) request.reject(error)
      return
    }
    let written = false
    batch.forEach((request, i) => {
      const outcome = toAppendOutcome(request, rows[i])
      if (outcome.ok) {
        written = true
        request.resolve(outcome.result)
      } else request.reject(outcome.error)
    })
    if (written) this.onWritten()
  }
}
