import type { Channel, ConsumeMessage } from 'amqplib'
import { settledWithin } from '../core/timing.js'
import type { Logger } from '../core/types.js'
import { handleDelivery } from '../messaging/delivery.js'
import { KeyedScheduler } from '../messaging/keyed-scheduler.js'
import type { ResolvedSubscription } from '../messaging/retry.js'
import type { Consumer, StopOptions } from '../messaging/types.js'
import type { ReconnectingConnection } from './connection.js'
import { H, headerNumber, headerString, toIncoming } from './headers.js'
import { ShardLease } from './lease.js'
import type { Names } from './names.js'
import { type Settler, settle } from './settle.js'
import { assertGroup } from './topology.js'

export interface MemberDeps {
  connection: ReconnectingConnection
  names: Names
  settler: Settler
  logger: Logger | undefined
  rebalanceIntervalMs: number
  deliveryLimit: number
}

interface Delivery {
  lease: ShardLease
  message: ConsumeMessage
  abandoned: boolean
}

/**
 * One member of a consumer group. Why shards with leases rather than one queue per group: with
 * several consumers on one queue, RabbitMQ hands consecutive messages of a key to different
 * consumers, so order and exclusivity per key would be lost. Each group instead has N shard
 * queues (a key always hashes to the same one); a shard is consumed by exactly one member at a
 * time, and members share the shards (each takes at most ⌈N / members⌉, counted from the
 * consumers of the group's members queue) so load spreads and a dead member's shards move on.
 * Single active consumer alone would not spread: the first member to register would be active on
 * every shard. Inside a member, a keyed scheduler runs different keys in parallel, one key at a time.
 * The limit of it: a member cut off from the broker may still be running a handler when another
 * member takes the shard over and gets the message again; handlers tolerate that as they tolerate
 * any redelivery.
 */
export class RabbitMember implements Consumer {
  #leases = new Map<number, ShardLease>()
  #releasing = new Map<ShardLease, Promise<void>>()
  #running = new Set<Delivery>()
  #scheduler: KeyedScheduler<Delivery>
  #membership: Channel | undefined
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  #turn: Promise<void> = Promise.resolve()
  #offReconnect: (() => void) | undefined
  // Members start their claims at different shards so that they do not all race for shard 0.
  readonly #offset: number

  constructor(
    private readonly deps: MemberDeps,
    private readonly subscription: ResolvedSubscription,
  ) {
    this.#scheduler = new KeyedScheduler(subscription.concurrency, (d) => this.#run(d))
    this.#offset = Math.floor(Math.random() * deps.names.shards)
  }

  get group(): string {
    return this.subscription.group
  }

  async start(): Promise<void> {
    await this.#setUp()
    this.#offReconnect = this.deps.connection.onConnect(() => this.#serially(() => this.#setUp()))
    this.#tick()
  }

  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#offReconnect?.()
    await this.#turn
    for (const lease of this.#leases.values()) void this.#release(lease)
    const released = Promise.all(this.#releasing.values())
    if (options.timeoutMs === undefined) await released
    else if (!(await settledWithin(released, options.timeoutMs))) await this.#abandon()
    this.#leases.clear()
    await this.#membership?.close().catch(() => {})
  }

  async #setUp(): Promise<void> {
    // After a reconnect the old channels are gone, and with them the leases.
    this.#leases.clear()
    const channel = await this.deps.connection.channel()
    const { group, types } = this.subscription
    await assertGroup(channel, this.deps.names, { group, types, deliveryLimit: this.deps.deliveryLimit })
    await channel.consume(this.deps.names.membersQueue(group), () => {}, { noAck: true })
    this.#membership = channel
    await this.#rebalance()
  }

  #tick(): void {
    this.#timer = setTimeout(() => {
      this.#serially(() => this.#rebalance()).finally(() => {
        if (!this.#stopped) this.#tick()
      })
    }, this.deps.rebalanceIntervalMs)
  }

  #serially(work: () => Promise<void>): Promise<void> {
    this.#turn = this.#turn
      .then(() => (this.#stopped ? undefined : work()))
      .catch((error: Error) => this.deps.logger?.debug?.('rabbitmq rebalance failed', { error: error.message }))
    return this.#turn
  }

  async #rebalance(): Promise<void> {
    for (const [shard, lease] of this.#leases) if (lease.lost) this.#leases.delete(shard)
    const membership = this.#membership
    if (membership === undefined) return
    const { names } = this.deps
    const { consumerCount } = await membership.checkQueue(names.membersQueue(this.group))
    const target = Math.ceil(names.shards / Math.max(1, consumerCount))
    const surplus = [...this.#leases.values()].slice(target)
    for (const lease of surplus) {
      this.#leases.delete(lease.shard)
      // Not awaited: a handler that takes long must not hold up the rest of the rebalancing.
      void this.#release(lease)
    }
    for (let i = 0; i < names.shards && this.#leases.size < target && !this.#stopped; i++) {
      const shard = (this.#offset + i) % names.shards
      if (this.#leases.has(shard)) continue
      // Ask before trying: a refused exclusive consume costs a channel and a line in the broker's log.
      const lock = await membership.checkQueue(names.lockQueue(this.group, shard))
      if (lock.consumerCount > 0) continue
      const lease = await ShardLease.claim({
        connection: this.deps.connection,
        names,
        group: this.group,
        shard,
        prefetch: this.subscription.concurrency,
        onMessage: (l, m) => this.#onMessage(l, m),
      })
      if (lease !== undefined) this.#leases.set(shard, lease)
    }
  }

  #onMessage(lease: ShardLease, message: ConsumeMessage): void {
    // Arrived while letting go: not started, so the broker hands it back when the channel closes.
    if (!lease.releasing) this.#scheduler.push(headerString(message, H.partitionKey), { lease, message, abandoned: false })
  }

  async #run(delivery: Delivery): Promise<void> {
    const { lease, message } = delivery
    // Its channel died while it waited: the broker has already given it back to the queue.
    if (lease.lost) return
    this.#running.add(delivery)
    try {
      const attempt = (headerNumber(message, H.attempt) ?? 1) + (headerNumber(message, H.deliveryCount) ?? 0)
      const outcome = await handleDelivery(toIncoming(message), 'amqp', attempt, this.subscription)
      if (!delivery.abandoned) await settle(this.deps.settler, lease, message, outcome)
    } finally {
      this.#running.delete(delivery)
    }
  }

  #release(lease: ShardLease): Promise<void> {
    const mine = (d: Delivery) => d.lease === lease
    const releasing = lease
      .release(
        () => this.#scheduler.settled(mine),
        () => void this.#scheduler.drop(mine),
      )
      .finally(() => this.#releasing.delete(lease))
    this.#releasing.set(lease, releasing)
    return releasing
  }

  /** Closing the channels hands back everything unacknowledged, handlers still running included. */
  async #abandon(): Promise<void> {
    for (const delivery of this.#running) delivery.abandoned = true
    await Promise.all([...this.#leases.values(), ...this.#releasing.keys()].map((lease) => lease.close()))
  }
}
