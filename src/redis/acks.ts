import type { Redis } from 'ioredis'
import { encodedCommand, queueCommand, send } from './resp.js'

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
  /** Batches sent and not answered yet. */
  #inFlight = 0
  /** Callers of `settled` waiting for the batches in flight. */
  #waiting: (() => void)[] = []

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
    while (this.#scheduled || this.#inFlight > 0) {
      if (this.#scheduled) await new Promise((resolve) => setImmediate(resolve))
      else await new Promise<void>((resolve) => this.#waiting.push(resolve))
    }
  }

  #flush(): void {
    this.#scheduled = false
    const batches = this.#pending
    const count = this.#count
    this.#pending = new Map()
    this.#count = 0
    this.#inFlight++
    if (batches.size === 1) this.#one(batches)
    else this.#many(batches, count)
  }

  #answered(): void {
    if (--this.#inFlight > 0) return
    const waiting = this.#waiting
    this.#waiting = []
    for (const wake of waiting) wake()
  }

  /** One stream (every flush at low rates): a lone XACK, without a pipeline object, its answer the only promise. */
  #one(batches: Map<string, string[]>): void {
    const [stream, ids] = batches.entries().next().value as [string, string[]]
    const command = encodedCommand('xack', [stream, this.group, ...ids])
    send(this.redis, command).then(
      () => this.#answered(),
      (error: Error) => {
        try {
          this.failed(error, ids.length)
        } finally {
          this.#answered()
        }
      },
    )
  }

  #many(batches: Map<string, string[]>, count: number): void {
    const pipeline = this.redis.pipeline()
    for (const [stream, ids] of batches) queueCommand(pipeline, encodedCommand('xack', [stream, this.group, ...ids]))
    const sizes = [...batches.values()].map((ids) => ids.length)
    pipeline
      .exec()
      .then(
        (results) => {
          if (results === null) return this.failed(new Error('Redis discarded the acknowledgements'), count)
          results.forEach(([error], i) => {
            if (error !== null) this.failed(error, sizes[i] ?? 0)
          })
        },
        (error: Error) => this.failed(error, count),
      )
      .then(
        () => this.#answered(),
        () => this.#answered(),
      )
  }
}
