interface Job<T> {
  key: string | undefined
  item: T
}

/**
 * Runs work items at most `concurrency` at a time, never two of one key at once, and each key's
 * items in the order they were pushed; items of other keys (or none) overtake a busy key. A broker
 * adapter pushes deliveries here in arrival order, which is publish order within a key.
 */
export class KeyedScheduler<T> {
  #queued: Job<T>[] = []
  #running = new Map<T, Promise<void>>()
  #busyKeys = new Set<string>()

  constructor(
    private readonly concurrency: number,
    private readonly run: (item: T) => Promise<void>,
  ) {}

  push(key: string | undefined, item: T): void {
    this.#queued.push({ key, item })
    this.#drain()
  }

  /** Removes the queued (not started) items that match, in arrival order. */
  drop(match: (item: T) => boolean): T[] {
    const dropped = this.#queued.filter((job) => match(job.item))
    this.#queued = this.#queued.filter((job) => !match(job.item))
    return dropped.map((job) => job.item)
  }

  /** Resolves once no started item that matches is still running. */
  async settled(match: (item: T) => boolean = () => true): Promise<void> {
    await Promise.all([...this.#running].filter(([item]) => match(item)).map(([, done]) => done))
  }

  #drain(): void {
    const blocked = new Set<string>()
    const startable: Job<T>[] = []
    for (const job of this.#queued) {
      if (this.#running.size + startable.length >= this.concurrency) break
      if (job.key !== undefined) {
        // An earlier item of this key waits or runs: this one must wait behind it.
        if (blocked.has(job.key) || this.#busyKeys.has(job.key)) {
          blocked.add(job.key)
          continue
        }
        blocked.add(job.key)
      }
      startable.push(job)
    }
    if (startable.length === 0) return
    this.#queued = this.#queued.filter((job) => !startable.includes(job))
    for (const job of startable) this.#start(job)
  }

  #start(job: Job<T>): void {
    if (job.key !== undefined) this.#busyKeys.add(job.key)
    const done = this.run(job.item)
      .catch(() => {})
      .finally(() => {
        this.#running.delete(job.item)
        if (job.key !== undefined) this.#busyKeys.delete(job.key)
        this.#drain()
      })
    this.#running.set(job.item, done)
  }
}
