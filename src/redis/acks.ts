import type { Redis } from 'ioredis'

interface Pending {
  ids: string[]
  settled: { resolve: () => void; reject: (error: unknown) => void }[]
}

/**
 * Acknowledges entries of one group with one XACK per stream for every entry settled in the same
 * turn of the event loop, instead of one round trip each. Each caller still resolves only once
 * Redis has taken its acknowledgement, so nothing counts as done before it is.
 */
export class AckBatcher {
  #pending = new Map<string, Pending>()
  #scheduled = false
  #inFlight = new Set<Promise<unknown>>()

  constructor(
    private readonly redis: Redis,
    private readonly group: string,
  ) {}

  ack(stream: string, id: string): Promise<void> {
    return new Promise((resolve, reject) => {
      let batch = this.#pending.get(stream)
      if (batch === undefined) {
        batch = { ids: [], settled: [] }
        this.#pending.set(stream, batch)
      }
      batch.ids.push(id)
      batch.settled.push({ resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => this.#flush())
      }
    })
  }

  /** Resolves once every acknowledgement asked for so far has been answered, taken or not. */
  async settled(): Promise<void> {
    while (this.#scheduled || this.#inFlight.size > 0) {
      if (this.#scheduled) await new Promise((resolve) => setImmediate(resolve))
      await Promise.allSettled([...this.#inFlight])
    }
  }

  #flush(): void {
    this.#scheduled = false
    const batches = this.#pending
    this.#pending = new Map()
    for (const [stream, { ids, settled }] of batches) {
      const sent = this.redis.xack(stream, this.group, ...ids).then(
        () => {
          for (const s of settled) s.resolve()
        },
        (error: unknown) => {
          for (const s of settled) s.reject(error)
        },
      )
      this.#inFlight.add(sent)
      void sent.finally(() => this.#inFlight.delete(sent))
    }
  }
}
