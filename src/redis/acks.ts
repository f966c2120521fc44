import type { Redis } from 'ioredis'

/** Told when Redis did not take a batch: its entries stay pending and will be delivered again. */
export type AckFailed = (error: Error, entries: number) => void

/**
 * Acknowledges entries of one group: everything settled in the same turn of the event loop goes
 * out as one XACK per stream, all of them in one pipeline (one socket write; a write per stream
 * cost more than the rest of the acknowledgement). No promise per entry: a failure is reported
 * once per batch, and `settled` says when every acknowledgement asked for was answered.
 */
export class AckBatcher {
  #pending = new Map<string, string[]>()
  #count = 0
  #scheduled = false
  #inFlight = new Set<Promise<void>>()

  constructor(
    private readonly redis: Redis,
    private readonly group: string,
    private readonly failed: AckFailed,
  ) {}

  ack(stream: string, id: string): void {
    const ids = this.#pending.get(stream)
    if (ids === undefined) this.#pending.set(stream, [id])
    else ids.push(id)
    this.#count++
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.#flush())
    }
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
    const count = this.#count
    this.#pending = new Map()
    this.#count = 0
    const sent = batches.size === 1 ? this.#one(batches) : this.#many(batches, count)
    this.#inFlight.add(sent)
    const done = () => this.#inFlight.delete(sent)
    void sent.then(done, done)
  }

  /** One stream (every flush at low rates): a lone XACK, without a pipeline object. */
  #one(batches: Map<string, string[]>): Promise<void> {
    const [stream, ids] = batches.entries().next().value as [string, string[]]
    return this.redis.xack(stream, this.group, ...ids).then(
      () => {},
      (error: Error) => this.failed(error, ids.length),
    )
  }

  #many(batches: Map<string, string[]>, count: number): Promise<void> {
    const pipeline = this.redis.pipeline()
    for (const [stream, ids] of batches) pipeline.xack(stream, this.group, ...ids)
    const sizes = [...batches.values()].map((ids) => ids.length)
    return pipeline.exec().then(
      (results) => {
        if (results === null) return this.failed(new Error('Redis discarded the acknowledgements'), count)
        results.forEach(([error], i) => {
          if (error !== null) this.failed(error, sizes[i] ?? 0)
        })
      },
      (error: Error) => this.failed(error, count),
    )
  }
}
