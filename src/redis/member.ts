import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Redis } from 'ioredis'
import { repeatUntilAborted, settledWithin, sleep } from '../core/timing.js'
import type { Logger } from '../core/types.js'
import { type Outcome, runDelivery } from '../messaging/delivery.js'
import { KeyedScheduler } from '../messaging/keyed-scheduler.js'
import type { ResolvedSubscription } from '../messaging/retry.js'
import type { Consumer, StopOptions } from '../messaging/types.js'
import { AckBatcher } from './acks.js'
import type { RedisDeadLetters } from './dead-letters.js'
import { F, type Keys } from './keys.js'
import { beat, claimLeases, leave, releaseLease } from './leases.js'
import { ReadableShards } from './readable.js'
import { claimPending, ensureGroup, NewEntriesRead, type ReadEntry, readOwnPending } from './streams.js'
import { type Fields, incomingOf } from './wire.js'

const noop = () => {}
/** How long a beat waits for a delivery to follow before it goes on its own: see `#afterDelivery`. */
const BEAT_WAIT_MS = 50

export interface RedisMemberDeps {
  redis: Redis
  keys: Keys
  deadLetters: RedisDeadLetters
  logger: Logger | undefined
  leaseMs: number
  rebalanceIntervalMs: number
}

interface Entry {
  stream: string
  shard: number
  id: string
  fields: Fields
  attempt: number
  abandoned: boolean
}

/**
 * One member of a group. Why leases: a Redis consumer group hands entries to whichever consumer
 * reads, so two members would run consecutive messages of one key at once. Each shard stream is
 * read for a group by one member at a time, the holder of a lease key with a TTL it keeps renewing;
 * members share the shards (at most ⌈N / live members⌉ each, members counted in a heartbeat set).
 * A member that dies stops renewing: its leases run out, and the next holder takes the entries it
 * left unacknowledged with XAUTOCLAIM before reading new ones, so the key order holds.
 * Retries wait in this process, holding the key: Redis has no delayed delivery.
 */
export class RedisMember implements Consumer {
  readonly #me = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`
  #held = new Set<number>()
  /** Held, and its pending entries already taken over: safe to read new ones. */
  #readable: ReadableShards
  #releasing = new Map<number, Promise<void>>()
  /** The read under way, if any; it is awaited (and its failure handled) by the read loop. */
  #reading: { shards: readonly number[]; done: Promise<unknown> } | undefined
  #scheduler: KeyedScheduler<Entry>
  #backlog = 0
  /**
   * Entries waiting to start below which the next read goes out. Several times `concurrency`, so
   * that the read's round trip overlaps handlers still to run instead of following them.
   */
  readonly #readAhead: number
  /** Wakes the read loop waiting for room in the backlog. */
  #room: (() => void) | undefined
  #running = new Set<Entry>()
  /** A read failed: its reply, and the entries it moved to our pending list, may be lost. */
  #recover = false
  #reader: Redis
  #stopping = new AbortController()
  #offset: number
  #acks: AckBatcher
  #newEntries: NewEntriesRead | undefined
  /** Key names made once: a beat names every lease held, four times a second. */
  readonly #leaseKeys: readonly string[]
  readonly #membersKey: string
  /** Lets a beat waiting for a delivery go: see `#afterDelivery`. */
  #delivered: (() => void) | undefined

  constructor(
    private readonly deps: RedisMemberDeps,
    private readonly subscription: ResolvedSubscription,
  ) {
    this.#scheduler = new KeyedScheduler(subscription.concurrency, (entry) => this.#run(entry))
    // Its own connection: XREADGROUP BLOCK holds a connection for as long as it waits.
    this.#reader = deps.redis.duplicate()
    this.#reader.on('error', (error: Error) => deps.logger?.debug?.('redis reader error', { error: error.message }))
    // A read whose reply the cut connection lost has moved its entries to our pending list all the
    // same, and ioredis sends the read again, which skips them for later ones (see #recoverOwn).
    this.#reader.on('reconnecting', () => {
      this.#recover = true
    })
    this.#readable = new ReadableShards(deps.keys)
    this.#offset = Math.floor(Math.random() * deps.keys.shards)
    this.#acks = new AckBatcher(deps.redis, subscription.group, (error, entries) =>
      deps.logger?.warn?.('redis acknowledgement failed; the entries will be delivered again', { error: error.message, entries }),
    )
    this.#readAhead = subscription.concurrency * 4
    this.#leaseKeys = Array.from({ length: deps.keys.shards }, (_, shard) => deps.keys.lease(subscription.group, shard))
    this.#membersKey = deps.keys.members(subscription.group)
  }

  get group(): string {
    return this.subscription.group
  }

  async start(): Promise<void> {
    const { keys, redis } = this.deps
    // All at once: one after another, they were a round trip each before a member could read.
    await Promise.all(Array.from({ length: keys.shards }, (_, shard) => ensureGroup(redis, keys.shardStream(shard), this.group)))
    await this.#beat()
    repeatUntilAborted(
      // Renewals must come well inside the lease, whatever the rebalancing pace asked for.
      Math.min(this.deps.rebalanceIntervalMs, this.deps.leaseMs / 3),
      this.#stopping.signal,
      () => this.#afterDelivery().then(() => (this.#stopping.signal.aborted ? undefined : this.#beat())),
      (error) => this.deps.logger?.debug?.('redis heartbeat failed', { error: error.message }),
    )
    void this.#readLoop()
  }

  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#stopping.signal.aborted) return
    this.#stopping.abort()
    this.#reader.disconnect()
    this.#readable.clear()
    const all = [...this.#held].map((shard) => this.#release(shard))
    const released = Promise.all(all)
    if (options.timeoutMs === undefined || (await settledWithin(released, options.timeoutMs))) {
      await released
    } else {
      // Given up: what is in hand stays pending for the next holder of its shard.
      for (const entry of this.#running) entry.abandoned = true
      for (const shard of this.#held) await releaseLease(this.deps.redis, this.#leaseKeys[shard] as string, this.#me)
    }
    await leave(this.deps.redis, this.#membersKey, this.#me).catch(() => {})
  }

  /**
   * Resolves in the turn after the next read that brings entries (after their handlers and
   * acknowledgements are sent), or after BEAT_WAIT_MS without one. A beat is a Lua call that keeps
   * Redis busy for about 0.1 ms, on the connection that publishes: on its own timer, it fell in
   * the same turn as a producer's timer often enough to delay one message in 200 by about 0.3 ms at
   * 500 messages a second (its XADD waited behind the beat), the transport's 99th percentile.
   * After a delivery, it comes in the gap that follows one.
   */
  #afterDelivery(): Promise<void> {
    return new Promise<void>((resolve) => {
      const go = () => {
        clearTimeout(timer)
        this.#delivered = undefined
        setImmediate(resolve)
      }
      const timer = setTimeout(go, BEAT_WAIT_MS)
      this.#delivered = go
    })
  }

  async #beat(): Promise<void> {
    const { redis, keys, leaseMs } = this.deps
    const held = [...this.#held]
    const leases = held.map((shard) => this.#leaseKeys[shard] as string)
    const { members, kept } = await beat(redis, this.#membersKey, leases, this.#me, leaseMs, leaseMs * 2)
    held.forEach((shard, i) => {
      // Not held any more: released meanwhile, so its lease is gone by our own hand.
      if (kept[i] || !this.#held.has(shard)) return
      // Ran out (this process stalled): another member may read it now, so let go of what waits.
      this.deps.logger?.warn?.('redis lease lost', { group: this.group, shard })
      this.#held.delete(shard)
      this.#readable.delete(shard)
      this.#dropWaiting(shard)
    })
    if (this.#stopping.signal.aborted) return
    const target = Math.ceil(keys.shards / members)
    const keeping = [...this.#held].filter((shard) => !this.#releasing.has(shard))
    for (const shard of keeping.slice(target)) void this.#release(shard)
    const free = Array.from({ length: keys.shards }, (_, i) => (this.#offset + i) % keys.shards).filter((s) => !this.#held.has(s))
    const wanted = target - (this.#held.size - this.#releasing.size)
    const taken = await claimLeases(
      redis,
      free.map((shard) => this.#leaseKeys[shard] as string),
      this.#me,
      leaseMs,
      wanted,
    )
    const claimed = taken.map((i) => free[i] as number)
    for (const shard of claimed) this.#held.add(shard)
    await Promise.all(claimed.map((shard) => this.#adopt(shard)))
  }

  /** Entries the shard's previous holders left unacknowledged come first: they are older than any unread one. */
  async #adopt(shard: number): Promise<void> {
    const stream = this.deps.keys.shardStream(shard)
    let leftovers: Awaited<ReturnType<typeof claimPending>>
    try {
      leftovers = await claimPending(this.deps.redis, stream, this.group, this.#me, 0)
    } catch (error) {
      // Unread entries must wait for the leftovers, so the shard cannot be read yet; held unread,
      // its lease renewed every beat, it would stall for good. Let it go: a later beat claims it again.
      this.deps.logger?.warn?.('redis could not take over a shard; letting it go', {
        group: this.group,
        shard,
        error: (error as Error).message,
      })
      await this.#release(shard)
      return
    }
    for (const e of leftovers) this.#push(stream, shard, e)
    this.#readable.add(shard)
  }

  /** Lets go once the handlers of the shard are done; what was read but not started stays pending for the next holder. */
  #release(shard: number): Promise<void> {
    const existing = this.#releasing.get(shard)
    if (existing !== undefined) return existing
    this.#readable.delete(shard)
    this.#dropWaiting(shard)
    // A read of the shard still under way would make entries pending to us after the next holder
    // took over the pending ones: they would wait behind later entries. Let it land first.
    const reading = this.#reading?.shards.includes(shard) ? this.#reading.done.then(noop, noop) : Promise.resolve()
    const releasing = reading
      .then(() => this.#scheduler.settled((e) => e.shard === shard))
      // Acknowledgements still on their way would let the next holder take those entries over again.
      .then(() => this.#acks.settled())
      .then(() => releaseLease(this.deps.redis, this.#leaseKeys[shard] as string, this.#me))
      .catch(() => {})
      .finally(() => {
        this.#held.delete(shard)
        this.#releasing.delete(shard)
      })
    this.#releasing.set(shard, releasing)
    return releasing
  }

  async #readLoop(): Promise<void> {
    while (!this.#stopping.signal.aborted) {
      if (this.#backlog >= this.#readAhead) {
        // Woken as soon as a handler starts (a 5 ms poll left the member idle between reads).
        let timer: NodeJS.Timeout | undefined
        await new Promise<void>((resolve) => {
          this.#room = resolve
          timer = setTimeout(resolve, 50)
        })
        clearTimeout(timer)
        this.#room = undefined
        continue
      }
      const { shards, streams } = this.#readable.current()
      if (shards.length === 0) {
        await sleep(20)
        continue
      }
      try {
        if (this.#recover) await this.#recoverOwn(shards, streams)
        // Up to the read-ahead from each stream (COUNT is per stream): with `concurrency` each, a
        // read brought ~250 entries at full speed, and the cost of each read and its
        // acknowledgements showed per message (CPU per message 0.79× with reads four times larger).
        if (this.#newEntries?.streams !== streams)
          this.#newEntries = new NewEntriesRead(streams, this.group, this.#me, this.#readAhead)
        const reading = this.#newEntries.send(this.#reader, (read) => this.#take(read, shards, streams))
        this.#reading = { shards, done: reading }
        await reading
      } catch (error) {
        if (this.#stopping.signal.aborted) return
        this.deps.logger?.debug?.('redis read failed', { error: (error as Error).message })
        this.#recover = true
        await sleep(200)
      }
    }
  }

  #take(read: [string, ReadEntry[]][], shards: readonly number[], streams: readonly string[]): void {
    // The connection dropped meanwhile: what this read brought is in our pending list too, and
    // the recovery takes it there, in order after whatever the lost reply held.
    if (this.#recover) return
    for (const [stream, entries] of read) {
      const shard = shards[streams.indexOf(stream)] as number
      // Released meanwhile: leave it pending, the next holder takes it over.
      if (!this.#readable.has(shard)) continue
      for (const e of entries) this.#push(stream, shard, e)
    }
    if (read.length > 0) this.#delivered?.()
  }

  /**
   * After a failed read, before any new one: entries the group delivered to us that we do not have
   * in hand came with a reply that was lost. They are older than anything unread, so they go first,
   * which keeps each key's order. What is in hand is taken before waiting: nothing new arrives
   * meanwhile (this loop is the reader), and what finishes meanwhile is in it. Acknowledgements on
   * their way are waited for, so that an entry already handled is not taken for a lost one; one
   * that Redis did not take is handled again.
   */
  async #recoverOwn(shards: readonly number[], streams: readonly string[]): Promise<void> {
    // Cleared first: a drop during the recovery makes the next loop recover again (see the catch there).
    this.#recover = false
    const inHand = new Set([...this.#scheduler.waiting(), ...this.#running].map((e) => `${e.stream} ${e.id}`))
    await this.#acks.settled()
    const pending = await readOwnPending(this.#reader, streams, this.group, this.#me, 10_000)
    for (const [stream, entries] of pending) {
      const shard = shards[streams.indexOf(stream)] as number
      if (!this.#readable.has(shard)) continue
      for (const e of entries) if (!inHand.has(`${stream} ${e.id}`)) this.#push(stream, shard, e)
    }
  }

  /** What waits to start for the shard stays pending in Redis, for the shard's next holder. */
  #dropWaiting(shard: number): void {
    this.#backlog -= this.#scheduler.drop((e) => e.shard === shard).length
  }

  #push(stream: string, shard: number, e: { id: string; fields: Fields; deliveries: number }): void {
    this.#backlog++
    const entry = { stream, shard, id: e.id, fields: e.fields, attempt: e.deliveries, abandoned: false }
    this.#scheduler.push(e.fields[F.partitionKey], entry)
  }

  #run(entry: Entry): Promise<void> | undefined {
    this.#backlog--
    if (this.#backlog < this.#readAhead) this.#room?.()
    if (this.#skips(entry.fields)) return void this.#ack(entry)
    const outcome = runDelivery(incomingOf(entry.fields), 'kafka', entry.attempt, this.subscription)
    // A handler that returned no promise and succeeded: settled now, with no promise made.
    if (!(outcome instanceof Promise) && outcome.kind === 'ack') return void this.#ack(entry)
    return this.#settle(entry, outcome)
  }

  /** The rest of `#run`: waits for the handler, retries in place, dead-letters. */
  async #settle(entry: Entry, first: Outcome | Promise<Outcome>): Promise<void> {
    this.#running.add(entry)
    try {
      for (let attempt = entry.attempt; ; attempt++) {
        const outcome =
          attempt === entry.attempt
            ? await first
            : await runDelivery(incomingOf(entry.fields), 'kafka', attempt, this.subscription)
        if (entry.abandoned || outcome.kind === 'abandoned') return
        if (outcome.kind === 'ack') return this.#ack(entry)
        if (outcome.kind === 'dead') {
          await this.deps.deadLetters.add(this.group, entry.fields, outcome, `${entry.stream}/${this.group}`)
          return this.#ack(entry)
        }
        // Stopped while waiting: left pending, the next holder of the shard retries it.
        if (!(await sleep(outcome.delayMs, this.#stopping.signal))) return
      }
    } catch (error) {
      // Left pending: the next holder of the shard takes it over.
      this.deps.logger?.error?.('redis could not settle an entry', { error: (error as Error).message })
    } finally {
      this.#running.delete(entry)
    }
  }

  /** Every group reads the shard streams: skip what this group did not ask for, and others' replays. */
  #skips(fields: Fields): boolean {
    const replayFor = fields[F.replayGroup]
    if (replayFor !== undefined && replayFor !== this.group) return true
    const { types } = this.subscription
    const type = fields[F.type]
    return types !== undefined && type !== undefined && !types.includes(type)
  }

  /**
   * Sent without holding the entry's slot or key for the answer, as RabbitMQ and NATS
   * acknowledgements are: waiting a round trip per entry bounded a member at `concurrency` entries
   * per round trip. An acknowledgement Redis does not take leaves the entry pending; the shard's
   * next holder takes it over and it is delivered again, after later entries of its key were
   * handled: a duplicate, as at-least-once delivery allows. A shard is let go only once its
   * acknowledgements were answered (see `#release`).
   */
  #ack(entry: Entry): void {
    this.#acks.ack(entry.stream, entry.id)
  }
}
