import type { JetStreamClient, Consumer as JsConsumer, JsMsg } from '@nats-io/jetstream'
import { settledWithin, sleep } from '../core/timing.js'
import type { Logger } from '../core/types.js'
import { handleDelivery, type Outcome } from '../messaging/delivery.js'
import type { ResolvedSubscription } from '../messaging/retry.js'
import { Semaphore } from '../messaging/semaphore.js'
import type { Consumer, StopOptions } from '../messaging/types.js'
import { H, type Names } from './names.js'
import type { NatsPublisher } from './publisher.js'
import { originalHeaders, toIncoming } from './wire.js'

export interface NatsMemberDeps {
  js: JetStreamClient
  names: Names
  publisher: NatsPublisher
  logger: Logger | undefined
  ackWaitMs: number
}

interface InFlight {
  msg: JsMsg
  abandoned: boolean
  done: Promise<void>
}

const PULL_EXPIRES_MS = 1_000
/**
 * A message pulled while every slot is busy goes back, after this long, if another member is asking
 * its shard for messages; otherwise it waits for a slot here. JetStream counts a hand-back as a delivery, and `attempt` is JetStream's delivery count: a message handed
 * back this way reaches its handler with a higher attempt, and so has fewer tries left. Members pull
 * only while they have room, so it happens in bursts only (several shards answering at once).
 */
const HAND_BACK_MS = 100

/**
 * One member of a group. Why this shape: each group has one durable pull consumer per shard with
 * `max_ack_pending: 1`, so JetStream itself hands out a shard's messages one at a time, in order,
 * to whichever member asks first. That gives per-key order and exclusivity across members without
 * leases (a key always hashes to one shard), spreads load over members, and lets shards (so keys)
 * run in parallel. A member pulls from every shard and runs up to `concurrency` handlers at once.
 */
export class NatsMember implements Consumer {
  #stopped = false
  #inFlight = new Set<InFlight>()
  #slots: Semaphore

  constructor(
    private readonly deps: NatsMemberDeps,
    private readonly subscription: ResolvedSubscription,
  ) {
    this.#slots = new Semaphore(subscription.concurrency)
  }

  get group(): string {
    return this.subscription.group
  }

  async start(consumers: JsConsumer[]): Promise<void> {
    for (const [shard, consumer] of consumers.entries()) void this.#pull(shard, consumer)
  }

  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    const drained = Promise.all([...this.#inFlight].map((f) => f.done))
    if (options.timeoutMs === undefined) return void (await drained)
    if (await settledWithin(drained, options.timeoutMs)) return
    // Like a member that died, but without waiting out the ack wait: hand the messages back now.
    for (const flight of this.#inFlight) {
      flight.abandoned = true
      flight.msg.nak()
    }
  }

  async #pull(shard: number, consumer: JsConsumer): Promise<void> {
    while (!this.#stopped) {
      // Ask only while there is room: a member that pulls more than it can run keeps shards from the others.
      if (this.#inFlight.size >= this.subscription.concurrency) {
        await sleep(5)
        continue
      }
      let msg: JsMsg | null
      try {
        msg = await consumer.next({ expires: PULL_EXPIRES_MS })
      } catch (error) {
        // Disconnected or closing: the client reconnects by itself; ask again shortly.
        this.deps.logger?.debug?.('nats pull failed', { shard, error: (error as Error).message })
        await sleep(200)
        continue
      }
      if (msg === null) continue
      if (this.#stopped) {
        msg.nak()
        return
      }
      this.#track(shard, consumer, msg)
    }
  }

  #track(shard: number, consumer: JsConsumer, msg: JsMsg): void {
    // Keeps the message ours while it waits for a slot and while its handler runs.
    const heartbeat = setInterval(() => msg.working(), Math.max(100, this.deps.ackWaitMs / 3))
    const flight: InFlight = { msg, abandoned: false, done: Promise.resolve() }
    flight.done = (async () => {
      if (!(await this.#slotOrHandBack(consumer))) {
        clearInterval(heartbeat)
        this.#inFlight.delete(flight)
        msg.nak()
        return
      }
      try {
        const outcome = await this.#handle(msg)
        if (!flight.abandoned) await this.#settle(shard, msg, outcome)
      } catch (error) {
        this.deps.logger?.error?.('nats could not settle a message; it will be redelivered', { error: (error as Error).message })
        if (!flight.abandoned) msg.nak()
      } finally {
        clearInterval(heartbeat)
        this.#slots.release()
        this.#inFlight.delete(flight)
      }
    })()
    this.#inFlight.add(flight)
  }

  /**
   * True once a slot is ours; false when the message should go back because another member is
   * asking this shard for messages (a hand-back that nobody takes would only cost an attempt).
   */
  async #slotOrHandBack(consumer: JsConsumer): Promise<boolean> {
    for (;;) {
      if (await this.#slots.acquire(HAND_BACK_MS)) return true
      if (this.#stopped) return false
      const waiting = await consumer.info().then(
        (info) => info.num_waiting,
        () => 1,
      )
      if (waiting > 0) return false
    }
  }

  async #handle(msg: JsMsg): Promise<Outcome | undefined> {
    const headers = msg.headers
    const replayFor = headers?.get(H.replayGroup)
    const type = headers?.get(H.type)
    const { types, group } = this.subscription
    // Consumers filter by shard only, so a member skips what its group did not ask for.
    if ((replayFor && replayFor !== group) || (types !== undefined && type && !types.includes(type))) return undefined
    return handleDelivery(toIncoming(headers, msg.data), 'nats', msg.info.deliveryCount, this.subscription)
  }

  async #settle(shard: number, msg: JsMsg, outcome: Outcome | undefined): Promise<void> {
    if (outcome === undefined || outcome.kind === 'ack') return msg.ack()
    if (outcome.kind === 'abandoned') return
    if (outcome.kind === 'retry') return msg.nak(outcome.delayMs)
    const { names, publisher } = this.deps
    const id = outcome.message?.id ?? crypto.randomUUID()
    const headers = {
      ...originalHeaders(msg.headers),
      [H.error]: JSON.stringify(outcome.error),
      [H.attempts]: String(outcome.attempts),
      [H.origin]: `${names.eventsStream}/${names.durable(this.group, shard)}`,
      [H.deadAt]: new Date().toISOString(),
      [H.deadLetterId]: id,
    }
    // Stored as a dead letter before the original is acknowledged: a crash in between duplicates, never loses.
    await publisher.send([{ id, subject: names.deadSubject(this.group), body: msg.data, headers }])
    msg.ack()
  }
}
