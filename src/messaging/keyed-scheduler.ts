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
 */
export class KeyedScheduler<T> {
  #seq = 0
  /** Items that may start now, earliest arrival first. */
  #startable: Job<T>[] = []
  /** Per key with an item startable or running: the items behind it, in arrival order. */
  #behind = new Map<string, Job<T>[]>()
  #running = new Map<T, { key: string | undefined; done: Promise<void> }>()

  constructor(
    private readonly concurrency: number,
    private readonly run: (item: T) => Promise<void>,
  ) {}

  push(key: string | undefined, item: T): void {
    this.#enqueue({ key, item, seq: this.#seq++ })
    this.#drain()
  }

  /** Removes the queued (not started) items that match, in arrival order. */
  drop(match: (item: T) => boolean): T[] {
    const queued = [...this.#startable, ...[...this.#behind.values()].flat()].sort((a, b) => a.seq - b.seq)
    const dropped = queued.filter((job) => match(job.item))
    if (dropped.length === 0) return []
    this.#startable = []
    // Keys still running stay blocked: their remaining items queue behind them again.
    this.#behind = new Map()
    for (const { key } of this.#running.values()) if (key !== undefined) this.#behind.set(key, [])
    for (const job of queued) if (!match(job.item)) this.#enqueue(job)
    return dropped.map((job) => job.item)
  }

  /** Resolves once no started item that matches is still running. */
  async settled(match: (item: T) => boolean = () => true): Promise<void> {
    await Promise.all([...this.#running].filter(([item]) => match(item)).map(([, running]) => running.done))
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
    while (this.#running.size < this.concurrency && this.#startable.length > 0) this.#start(heapPop(this.#startable) as Job<T>)
  }

  #start(job: Job<T>): void {
    const finished = () => {
      this.#running.delete(job.item)
      if (job.key !== undefined) this.#next(job.key)
      this.#drain()
    }
    // One promise per item, not a catch and a finally: this runs for every message.
    const done = this.run(job.item).then(finished, finished)
    this.#running.set(job.item, { key: job.key, done })
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
