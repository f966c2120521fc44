import type { Channel, ConsumeMessage } from 'amqplib'
import type { ReconnectingConnection } from './connection.js'
import type { Names } from './names.js'

export interface LeaseSpec {
  connection: ReconnectingConnection
  names: Names
  group: string
  shard: number
  prefetch: number
  onMessage: (lease: ShardLease, message: ConsumeMessage) => void
}

/**
 * This member's hold on one shard queue of its group: an exclusive consumer on the shard's lock
 * queue (quorum queues ignore `exclusive`, classic ones enforce it), and the shard's consumer, on
 * one channel of their own. Closing that channel ends both at once and hands every unacknowledged
 * message back to the quorum queue at its place, so the next holder starts where this one stopped.
 */
export class ShardLease {
  releasing = false
  /** The channel closed under us: the broker took back what we held. */
  lost = false
  /** Deliveries not yet settled with the broker, in delivery order. */
  #unsettled: ConsumeMessage[] = []
  /** Handled, their acknowledgement not sent yet, by delivery tag. */
  #done = new Map<number, ConsumeMessage>()
  /** Settled one by one (acknowledged out of order, or requeued): no longer waiting for an acknowledgement. */
  #settled = new Set<number>()
  #flushing = false

  private constructor(
    readonly group: string,
    readonly shard: number,
    private readonly channel: Channel,
  ) {}

  /** The lease, or undefined when another member holds it. */
  static async claim(spec: LeaseSpec): Promise<ShardLease | undefined> {
    const channel = await spec.connection.channel()
    try {
      await channel.consume(spec.names.lockQueue(spec.group, spec.shard), () => {}, { exclusive: true, noAck: true })
    } catch {
      // The broker refuses a second exclusive consumer by closing the channel (403): another member holds it.
      return undefined
    }
    await channel.prefetch(spec.prefetch)
    let lease: ShardLease | undefined
    const early: ConsumeMessage[] = []
    await channel.consume(spec.names.shardQueue(spec.group, spec.shard), (message) => {
      if (message === null) return void channel.close().catch(() => {})
      if (lease === undefined) early.push(message)
      else lease.#deliver(message, spec.onMessage)
    })
    lease = new ShardLease(spec.group, spec.shard, channel)
    const claimed = lease
    channel.on('close', () => {
      claimed.lost = true
    })
    for (const message of early) lease.#deliver(message, spec.onMessage)
    return lease
  }

  #deliver(message: ConsumeMessage, onMessage: LeaseSpec['onMessage']): void {
    this.#unsettled.push(message)
    onMessage(this, message)
  }

  /**
   * Acknowledged with the others done in the same turn of the event loop: a run of done deliveries
   * from the oldest unsettled one goes as one `multiple` acknowledgement, which a quorum queue
   * settles in one log entry instead of one per message. Done deliveries behind one still running
   * are acknowledged one by one at once rather than held: holding them would fill the prefetch
   * window behind a slow handler.
   */
  ack(message: ConsumeMessage): void {
    if (this.lost) return
    this.#done.set(message.fields.deliveryTag, message)
    if (this.#flushing) return
    this.#flushing = true
    setImmediate(() => this.#flush())
  }

  /** Gives the message back to the queue at its place. */
  requeue(message: ConsumeMessage): void {
    if (this.lost) return
    this.#settled.add(message.fields.deliveryTag)
    try {
      this.channel.nack(message, false, true)
    } catch {
      // As for ack.
    }
  }

  #flush(): void {
    this.#flushing = false
    if (this.lost) return
    let upTo: ConsumeMessage | undefined
    let settledPrefix = 0
    for (const message of this.#unsettled) {
      const tag = message.fields.deliveryTag
      if (this.#done.delete(tag)) upTo = message
      else if (!this.#settled.delete(tag)) break
      settledPrefix++
    }
    this.#unsettled.splice(0, settledPrefix)
    try {
      if (upTo !== undefined) this.channel.ack(upTo, true)
      for (const [tag, message] of this.#done) {
        this.channel.ack(message)
        this.#settled.add(tag)
      }
    } catch {
      // Closed meanwhile: the broker requeued them, they will come again.
    }
    this.#done.clear()
  }

  /**
   * Lets go after the handlers in hand finish, by closing the channel: the quorum queue then takes
   * back everything this consumer held but never started, in delivery order, ahead of the rest,
   * and the lock is free for another member. Not cancel-then-nack: a cancel makes the broker hand
   * back at once what was still on its way to us, before what we would nack, and the next holder
   * would see those later messages first.
   */
  async release(finishInFlight: () => Promise<void>, dropQueued: () => void): Promise<void> {
    this.releasing = true
    dropQueued()
    await finishInFlight()
    await this.close()
  }

  async close(): Promise<void> {
    // Acknowledgements still waiting for their turn go first: closing would hand those messages back.
    this.#flush()
    await this.channel.close().catch(() => {})
  }
}
