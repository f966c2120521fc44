import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { KV } from '@nats-io/kv'
import { repeatUntilAborted, settledWithin, sleep } from '../core/timing.js'
import type { Logger } from '../core/types.js'
import { type Outcome, runDelivery } from '../messaging/delivery.js'
import { KeyedScheduler } from '../messaging/keyed-scheduler.js'
import type { ResolvedSubscription } from '../messaging/retry.js'
import type { Consumer, StopOptions } from '../messaging/types.js'
import type { Delivery } from './delivery.js'
import { heartbeat, type Lease, LeaseBook, leave } from './leases.js'
import { H, type Names } from './names.js'
import type { NatsPublisher } from './publisher.js'
import { ShardReader, type ShardSource } from './shard-reader.js'
import { incomingOf, originalHeaders } from './wire.js'

export interface NatsMemberDeps {
  names: Names
  kv: KV
  publisher: NatsPublisher
  logger: Logger | undefined
  ackWaitMs: number
  leaseMs: number
  rebalanceIntervalMs: number
  /** Told once the member has stopped. */
  stopped?: (member: NatsMember) => void
}

interface Entry {
  reader: ShardReader
  msg: Delivery
}

/** Messages a member keeps waiting for a handler, at least: enough for whole batches from several shards. */
const MIN_READ_AHEAD = 256

/**
 * One member of a group. Why leases: each group has one durable pull consumer per shard, and a
 * shard is read by one member at a time, the holder of its lease (see `LeaseBook`), so that member
 * can pull many messages at once and still run each key's in order, through a `KeyedScheduler`,
 * different keys in parallel. Members share the shards (at most ⌈N / live members⌉ each, members
 * counted in a heartbeat record) and hand them over as members come and go. The order across a
 * handover does not rest on the lease alone: see `ShardReader`.
 * Retries wait in this process, holding the key: a nak with a delay would let the key's later
 * messages, already delivered, run first.
 */
export class NatsMember implements Consumer {
  readonly #me = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`
  readonly #leases: LeaseBook
  #sources: ShardSource[] = []
  #held = new Map<number, { lease: Lease; reader: ShardReader }>()
  #releasing = new Map<number, Promise<void>>()
  /** Every reader with messages maybe still in hand, released or lost ones too. */
  #readers = new Set<ShardReader>()
  #scheduler: KeyedScheduler<Entry>
  #queued = 0
  #acks: Delivery[] = []
  /** Readers that found no room and wait to be woken. */
  #starved = new Set<ShardReader>()
  #running = new Set<Entry>()
  #stopping = new AbortController()
  #keepAlive: NodeJS.Timeout | undefined
  #offset: number
  #readAhead: number

  constructor(
    private readonly deps: NatsMemberDeps,
    private readonly subscription: ResolvedSubscription,
  ) {
    this.#leases = new LeaseBook(deps.kv, this.#me, deps.leaseMs)
    this.#scheduler = new KeyedScheduler(subscription.concurrency, (entry) => this.#run(entry))
    this.#offset = Math.floor(Math.random() * deps.names.shards)
    this.#readAhead = Math.max(MIN_READ_AHEAD, subscription.concurrency * 4)
  }

  get group(): string {
    return this.subscription.group
  }

  async start(sources: ShardSource[]): Promise<void> {
    this.#sources = sources
    await this.#beat()
    repeatUntilAborted(
      // Renewals must come well inside the lease, whatever the rebalancing pace asked for.
      Math.min(this.deps.rebalanceIntervalMs, this.deps.leaseMs / 3),
      this.#stopping.signal,
      () => this.#beat(),
      (error) => this.deps.logger?.debug?.('nats heartbeat failed', { error: error.message }),
    )
    // Keeps what waits and what runs ours, well inside the ack wait.
    this.#keepAlive = setInterval(
      () => {
        for (const reader of this.#readers) reader.keepAlive()
      },
      Math.max(100, this.deps.ackWaitMs / 3),
    )
  }

  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#stopping.signal.aborted) return
    this.#stopping.abort()
    const released = Promise.all([...this.#held.keys()].map((shard) => this.#release(shard)))
    if (options.timeoutMs === undefined || (await settledWithin(released, options.timeoutMs))) {
      await released
    } else {
      // Given up: what is in hand goes back now, for the next holder of its shard; outcomes are ignored.
      for (const entry of this.#running) entry.reader.nak(entry.msg)
      await Promise.all([...this.#held.values()].map(({ lease }) => this.#leases.release(lease).catch(() => {})))
    }
    clearInterval(this.#keepAlive)
    await leave(this.deps.kv, this.deps.names.membersKey(this.group), this.#me).catch(() => {})
    this.deps.stopped?.(this)
  }

  reconnected(): void {
    for (const { reader } of this.#held.values()) reader.repull()
  }

  async #beat(): Promise<void> {
    const { kv, names, leaseMs } = this.deps
    const members = await heartbeat(kv, names.membersKey(this.group), this.#me, leaseMs * 2)
    // All at once, not one after the other: each write in flight holds up whatever delivery it meets
    // (about 0.3 ms), so one short burst touches a message or two where a sequence of 16 touched
    // several, and renewals spread over the lease touched one message each, dozens in all.
    const renewed = await Promise.all(
      [...this.#held].map(async ([shard, held]) => [shard, await this.#renew(held.lease)] as const),
    )
    for (const [shard, ours] of renewed) {
      if (ours) continue
      // Ran out (this process stalled, or NATS was out of reach): another member may read it now.
      this.deps.logger?.warn?.('nats lease lost', { group: this.group, shard })
      this.#letGo(shard)
    }
    if (this.#stopping.signal.aborted) return
    const target = Math.ceil(names.shards / members)
    const kept = [...this.#held.keys()].filter((shard) => !this.#releasing.has(shard))
    for (const shard of kept.slice(target)) void this.#release(shard)
    const free = Array.from({ length: names.shards }, (_, i) => (this.#offset + i) % names.shards).filter(
      (s) => !this.#held.has(s),
    )
    // Claimed a few at once: one after the other, a member starting on a backlog would wait for its
    // last shards behind the messages of its first ones.
    while (free.length > 0 && this.#held.size - this.#releasing.size < target) {
      const batch = free.splice(0, target - (this.#held.size - this.#releasing.size))
      await Promise.all(batch.map((shard) => this.#claim(shard)))
    }
  }

  async #claim(shard: number): Promise<void> {
    const lease = await this.#leases.claim(this.deps.names.leaseKey(this.group, shard))
    if (lease === undefined) return
    if (this.#stopping.signal.aborted) return void (await this.#leases.release(lease))
    this.#adopt(shard, lease)
  }

  /** Renewed a third of the way into the lease, whatever the rebalancing pace: one write per lease, not one per beat. */
  async #renew(lease: Lease): Promise<boolean> {
    if (lease.validUntil - performance.now() > (this.deps.leaseMs * 2) / 3) return true
    try {
      return await this.#leases.renew(lease)
    } catch {
      // No answer: still ours until it runs out by our clock; the next beat tries again.
      return performance.now() <= lease.validUntil
    }
  }

  #adopt(shard: number, lease: Lease): void {
    const reader = new ShardReader(shard, this.#sources[shard] as ShardSource, {
      room: () => this.#room(),
      starved: (starving) => this.#starved.add(starving),
      ready: (from, messages) => this.#ready(from, messages),
      ack: (msg) => this.#ack(msg),
      logger: this.deps.logger,
    })
    this.#held.set(shard, { lease, reader })
    this.#readers.add(reader)
  }

  #room(): number {
    let waiting = this.#queued
    for (const { reader } of this.#held.values()) waiting += reader.waitingCount
    return this.#readAhead - waiting
  }

  #ready(reader: ShardReader, messages: Delivery[]): void {
    for (const msg of messages) {
      this.#queued++
      this.#scheduler.push(msg.fields[H.partitionKey] || undefined, { reader, msg })
    }
  }

  /** Lost the lease: stop reading and give back what waits; handlers already running finish. */
  #letGo(shard: number): void {
    const held = this.#held.get(shard)
    if (held === undefined) return
    this.#held.delete(shard)
    const { reader } = held
    void reader.deactivate()
    this.#giveBackQueued(reader)
    void this.#scheduler.settled((e) => e.reader === reader).then(() => this.#readers.delete(reader))
  }

  /** Lets go once the handlers of the shard are done; what waits goes back to JetStream for the next holder. */
  #release(shard: number): Promise<void> {
    const existing = this.#releasing.get(shard)
    if (existing !== undefined) return existing
    const held = this.#held.get(shard)
    if (held === undefined) return Promise.resolve()
    const { lease, reader } = held
    const stopped = reader.deactivate()
    this.#giveBackQueued(reader)
    const releasing = stopped
      .then(() => this.#scheduler.settled((e) => e.reader === reader))
      .then(() => this.#leases.release(lease))
      .catch((error: Error) => this.deps.logger?.debug?.('nats lease release failed', { shard, error: error.message }))
      .finally(() => {
        if (this.#held.get(shard) === held) this.#held.delete(shard)
        this.#releasing.delete(shard)
        this.#readers.delete(reader)
      })
    this.#releasing.set(shard, releasing)
    return releasing
  }

  /**
   * Sent with the others done in the same turn of the event loop: the client writes to its socket
   * once per batch of commands, not once per acknowledgement, which was a sixth of the CPU at full speed.
   */
  #ack(msg: Delivery): void {
    this.#acks.push(msg)
    if (this.#acks.length > 1) return
    setImmediate(() => {
      const acks = this.#acks
      this.#acks = []
      for (const one of acks) one.ack()
    })
  }

  #giveBackQueued(reader: ShardReader): void {
    for (const entry of this.#scheduler.drop((e) => e.reader === reader)) {
      this.#queued--
      reader.nak(entry.msg)
    }
    this.#wakeStarved()
  }

  /** Returns no promise when the message was settled at once (a handler that returned none and succeeded). */
  #run(entry: Entry): Promise<void> | undefined {
    this.#queued--
    this.#wakeStarved()
    let handled: Promise<void> | undefined
    try {
      handled = this.#handle(entry)
    } catch (error) {
      this.#unsettled(entry, error as Error)
      return undefined
    }
    if (handled === undefined) return undefined
    this.#running.add(entry)
    return handled.then(
      () => void this.#running.delete(entry),
      (error: Error) => {
        this.#running.delete(entry)
        this.#unsettled(entry, error)
      },
    )
  }

  #unsettled({ reader, msg }: Entry, error: Error): void {
    this.deps.logger?.error?.('nats could not settle a message; it will be redelivered', { error: error.message })
    reader.nak(msg)
    // Its redelivery would come after the newer messages of its key already here: the shard is
    // given back whole and taken anew, which puts every message in stream order again.
    if (this.#held.get(reader.shard)?.reader === reader) void this.#release(reader.shard)
  }

  #wakeStarved(): void {
    if (this.#starved.size === 0 || this.#room() <= 0) return
    const starved = [...this.#starved]
    this.#starved.clear()
    for (const reader of starved) reader.wake()
  }

  #handle({ reader, msg }: Entry): Promise<void> | undefined {
    const { [H.replayGroup]: replayFor, [H.type]: type } = msg.fields
    const { types, group } = this.subscription
    // Consumers filter by shard only, so a member skips what its group did not ask for.
    if ((replayFor && replayFor !== group) || (types !== undefined && type && !types.includes(type))) {
      reader.ack(msg)
      return undefined
    }
    const outcome = runDelivery(incomingOf(msg.fields, msg.data), 'nats', msg.deliveryCount, this.subscription)
    // A handler that returned no promise and succeeded: settled now, with no promise made.
    if (!(outcome instanceof Promise) && outcome.kind === 'ack') {
      reader.ack(msg)
      return undefined
    }
    return this.#settle(reader, msg, outcome)
  }

  /** The rest of `#handle`: waits for the handler, retries in place, dead-letters. */
  async #settle(reader: ShardReader, msg: Delivery, first: Outcome | Promise<Outcome>): Promise<void> {
    for (let tries = 0; ; tries++) {
      const attempt = msg.deliveryCount + tries
      const outcome =
        tries === 0 ? await first : await runDelivery(incomingOf(msg.fields, msg.data), 'nats', attempt, this.subscription)
      // Given back meanwhile (stop gave up waiting): another member has it now.
      if (outcome.kind === 'abandoned' || !reader.holds(msg)) return
      if (outcome.kind === 'ack') return reader.ack(msg)
      if (outcome.kind === 'dead') return this.#deadLetter(reader, msg, outcome)
      // Stopping, or the shard went elsewhere while this one waited: the next holder retries it.
      if (!(await sleep(outcome.delayMs, this.#stopping.signal)) || !reader.active) return reader.nak(msg)
    }
  }

  async #deadLetter(reader: ShardReader, msg: Delivery, outcome: Extract<Outcome, { kind: 'dead' }>): Promise<void> {
    const { names, publisher } = this.deps
    const id = outcome.message?.id ?? crypto.randomUUID()
    const headers = {
      ...originalHeaders(msg.headers),
      [H.error]: JSON.stringify(outcome.error),
      [H.attempts]: String(outcome.attempts),
      [H.origin]: `${names.eventsStream}/${names.durable(this.group, reader.shard)}`,
      [H.deadAt]: new Date().toISOString(),
      [H.deadLetterId]: id,
    }
    // Stored as a dead letter before the original is acknowledged: a crash in between duplicates, never loses.
    await publisher.send([{ id, subject: names.deadSubject(this.group), body: msg.data, headers }])
    reader.ack(msg)
  }
}
