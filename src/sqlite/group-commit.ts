import type { Mutex } from '../core/mutex.js'
import type { AppendResult, ExpectedRevision } from '../core/types.js'
import type { PreparedEvent } from '../core/validation.js'

export interface AppendRequest {
  streamId: string
  events: PreparedEvent[]
  expected: ExpectedRevision
}

/** Writes requests in one transaction: one outcome per request, a result or the error it met. */
export type WriteBatch = (requests: AppendRequest[]) => (AppendResult | Error)[]

interface Pending extends AppendRequest {
  resolve: (result: AppendResult) => void
  reject: (error: unknown) => void
}

/**
 * Group commit for the embedded store. better-sqlite3 is synchronous, so appends started in the
 * same tick (concurrent callers in one process) would otherwise each pay a commit; gathered until
 * the next microtask they share one transaction. A lone append waits for nothing but that microtask.
 */
export class GroupCommit {
  #queue: Pending[] = []

  constructor(
    private readonly write: WriteBatch,
    private readonly onWritten: () => void,
    /** The store's write lock: a processor's transaction may be open on the same connection. */
    private readonly lock: Mutex,
  ) {}

  append(request: AppendRequest): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ ...request, resolve, reject })
      // Appends that arrive while the lock is taken join the queue and go out together.
      if (this.#queue.length === 1) queueMicrotask(() => void this.lock.run(() => this.#flush()))
    })
  }

  #flush() {
    const batch = this.#queue
    this.#queue = []
    let outcomes: (AppendResult | Error)[]
    try {
      outcomes = this.write(batch)
    } catch (error) {
      // The transaction rolled back as a whole. Alone, the request that broke it fails by itself.
      if (batch.length > 1) {
        for (const request of batch) this.#queue.push(request)
        return this.#flushEach()
      }
      return (batch[0] as Pending).reject(error)
    }
    let written = false
    batch.forEach((request, i) => {
      const outcome = outcomes[i]
      if (outcome instanceof Error) request.reject(outcome)
      else {
        written = true
        request.resolve(outcome as AppendResult)
      }
    })
    if (written) this.onWritten()
  }

  #flushEach() {
    const batch = this.#queue
    this.#queue = []
    for (const request of batch) {
      this.#queue = [request]
      this.#flush()
    }
  }
}
