interface Job<T> {
  key: string | undefined
  item: T
  /** Arrival order. */
  seq: number
}

/**
 * Runs work items at most `concurrency` at a time, never two of one key at once, and each key's
 * items in the order they were pushed; items of other keys (or none) overtake a busy key. A broker
 * adapter pushes deliveries here in arrival order, which is publish order within a key.
 *
 * Why the heap: a member may have thousands of deliveries waiting (NATS pulls in batches), so
 * pushing and finishing must not walk the whole queue. Only the first waiting item of each idle
 * key (and keyless items) can start; those wait in a heap by arrival, the rest behind their key.
 *
 * `run` may finish an item before it returns (it returns no promise then): the item is done at
 * once, and the next one starts in the same loop, with no promise made for either.
 */
export class KeyedScheduler<T> {
  #seq = 0
  /** Items that may start now, earliest arrival first. */
  #startable: Job<T>[] = []
  /** Per key with an item startable or running: the items behind it, in arrival order. */
  #behind = new Map<string, Job<T>[]>()
  #running = new Map<T, { key: string | undefined; done: Promise<void> }>()
  /** The item `run` is running now, before it returned: it counts as running for `drop` and `push`. */
  #inline: Job<T> | undefined

  constructor(
    private readonly concurrency: number,
    private readonly run: (item: T) => Promise<void> | undefined | void,
  ) {}

  push(key: string | undefined, item: T): void {
    this.#enqueue({ key, item, seq: this.#seq++ })
    this.#drain()
  }

  /** The queued (not started) items, in no particular order. */
  waiting(): T[] {
    return this.#queued().map((job) => job.item)
  }

  /** Removes the queued (not started) items that match, in arrival order. */
  drop(match: (item: T) => boolean): T[] {
    const queued = this.#queued().sort((a, b) => a.seq - b.seq)
    const dropped = queued.filter((job) => match(job.item))
    if (dropped.length === 0) return []
    this.#startable = []
    // Keys still running stay blocked: their remaining items queue behind them again.
    this.#behind = new Map()
    for (const { key } of this.#running.values()) if (key !== undefined) this.#behind.set(key, [])
    if (this.#inline?.key !== undefined) this.#behind.set(this.#inline.key, [])
    for (const job of queued) if (!match(job.item)) this.#enqueue(job)
    return dropped.map((job) => job.item)
  }

  /** Resolves once no started item that matches is still running. */
  async settled(match: (item: T) => boolean = () => true): Promise<void> {
    await Promise.all([...this.#running].filter(([item]) => match(item)).map(([, running]) => running.done))
  }

  #queued(): Job<T>[] {
    return [...this.#startable, ...[...this.#behind.values()].flat()]
  }

  #enqueue(job: Job<T>): void {
    if (job.key !== undefined) {
      const behind = this.#behind.get(job.key)
      if (behind !== undefined) return void behind.push(job)
      this.#behind.set(job.key, [])
    }
    heapPush(this.#startable, job)
  }

  #drain(): void {
    // Called back from inside `run` (it pushed or dropped): the loop below goes on once it returns.
    if (this.#inline !== undefined) return
    // A loop, not a call from each item's end: items that finish at once would otherwise nest one call per item.
    while (this.#running.size < this.concurrency && this.#startable.length > 0) {
      const job = heapPop(this.#startable) as Job<T>
      this.#inline = job
      let done: Promise<void> | undefined | void
      try {
        done = this.run(job.item)
      } catch {
        // As a rejection is: the item is over, its key goes on.
        done = undefined
      }
      this.#inline = undefined
      if (done === undefined) {
        if (job.key !== undefined) this.#next(job.key)
        continue
      }
      const finished = () => this.#finished(job)
      // One promise per item, not a catch and a finally.
      this.#running.set(job.item, { key: job.key, done: done.then(finished, finished) })
    }
  }

  #finished(job: Job<T>): void {
    this.#running.delete(job.item)
    if (job.key !== undefined) this.#next(job.key)
    this.#drain()
  }

  /** The key's item finished: its next one, if any, may start. */
  #next(key: string): void {
    const behind = this.#behind.get(key)
    const next = behind?.shift()
    if (next === undefined) this.#behind.delete(key)
    else heapPush(this.#startable, next)
  }
}

function heapPush<T>(heap: Job<T>[], job: Job<T>): void {
  heap.push(job)
  for (let i = heap.length - 1; i > 0; ) {
    const parent = (i - 1) >> 1
    if ((heap[parent] as Job<T>).seq <= job.seq) break
    heap[i] = heap[parent] as Job<T>
    heap[parent] = job
    i = parent
  }
}

function heapPop<T>(heap: Job<T>[]): Job<T> | undefined {
  const top = heap[0]
  const last = heap.pop()
  if (top === undefined || last === undefined || heap.length === 0) return top
  heap[0] = last
  for (let i = 0; ; ) {
    const left = 2 * i + 1
    const right = left + 1
    let smallest = i
    if (left < heap.length && (heap[left] as Job<T>).seq < (heap[smallest] as Job<T>).seq) smallest = left
    if (right < heap.length && (heap[right] as Job<T>).seq < (heap[smallest] as Job<T>).seq) smallest = right
    if (smallest === i) break
    ;[heap[i], heap[smallest]] = [heap[smallest] as Job<T>, heap[i] as Job<T>]
    i = smallest
  }
  return top
}
