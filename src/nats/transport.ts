import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
} from '@nats-io/jetstream'
import { type KV, Kvm } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Logger } from '../core/types.js'
import { encodeBinaryJson } from '../messaging/binary-mode.js'
import { createMessageWithJson, type OutgoingMessage } from '../messaging/envelope.js'
import { TransportClosedError } from '../messaging/errors.js'
import { resolveSubscription } from '../messaging/retry.js'
import type { Consumer, PublishResult, SubscribeOptions, Transport, TransportCapabilities } from '../messaging/types.js'
import { NatsDeadLetters } from './dead-letters.js'
import { NatsMember } from './member.js'
import { H, type Names } from './names.js'
import { type NatsOutgoing, NatsPublisher } from './publisher.js'
import type { ShardSource } from './shard-reader.js'

export interface NatsSettings {
  names: Names
  source: string
  logger: Logger | undefined
  publishTimeoutMs: number
  ackWaitMs: number
  leaseMs: number
  rebalanceIntervalMs: number
}

const NANOS_PER_MS = 1_000_000
/**
 * Messages a shard's consumer hands out before any is acknowledged: what one lease holder can have
 * in hand. Redeliveries are not held back by it, so a shard waiting for them never stalls.
 */
const MAX_ACK_PENDING = 1_000

export class NatsTransport implements Transport {
  readonly capabilities: TransportCapabilities = {
    supportsOrderingKey: true,
    // Retries wait in the consumer, holding their key: a nak with a delay would let the key's later messages, already delivered, go first.
    supportsDelayedDelivery: false,
    // JetStream only announces a message that ran out of deliveries; members move it themselves.
    supportsNativeDeadLettering: false,
    survivesConsumerCrash: true,
    // The retry waits in the consumer, holding its key.
    retriesKeepKeyOrder: true,
  }
  readonly deadLetters: NatsDeadLetters
  readonly #js: JetStreamClient
  readonly #publisher: NatsPublisher
  readonly #kv: KV
  #members = new Set<NatsMember>()
  #closed = false

  constructor(
    private readonly connection: NatsConnection,
    private readonly jsm: JetStreamManager,
    kv: KV,
    private readonly settings: NatsSettings,
  ) {
    this.#kv = kv
    this.#js = jetstream(connection)
    this.#publisher = new NatsPublisher(connection, settings.publishTimeoutMs)
    this.deadLetters = new NatsDeadLetters(this.#js, jsm, settings.names, this.#publisher)
    void this.#followStatus()
  }

  static async open(connection: NatsConnection, settings: NatsSettings): Promise<NatsTransport> {
    const jsm = await jetstreamManager(connection)
    const { names } = settings
    // Interest retention: a message stays until every group's consumer has acknowledged it.
    await ensureStream(jsm, { name: names.eventsStream, subjects: names.eventSubjects, retention: RetentionPolicy.Interest })
    await ensureStream(jsm, { name: names.deadStream, subjects: [`${names.prefix}.dead.>`], retention: RetentionPolicy.Limits })
    // Opens the bucket if it exists. File storage, as the streams: a lease outlives a server restart.
    const kv = await new Kvm(jetstream(connection)).create(names.leaseBucket, { history: 1 })
    return new NatsTransport(connection, jsm, kv, settings)
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<PublishResult> {
    this.#checkOpen()
    const { names, source } = this.settings
    const ids: string[] = new Array(messages.length)
    const outgoing: NatsOutgoing[] = new Array(messages.length)
    // Every message is checked before any is sent: a bad one fails the batch with nothing published.
    for (let i = 0; i < messages.length; i++) {
      const { message, json } = createMessageWithJson(messages[i] as OutgoingMessage, source, i)
      const { headers, contentType, body } = encodeBinaryJson(message, 'nats', json)
      if (contentType !== undefined) headers[H.contentType] = contentType
      const shard = names.shardOf(message.partitionKey ?? message.id)
      ids[i] = message.id
      outgoing[i] = { id: message.id, subject: names.eventSubject(shard), body, headers, msgId: message.id }
    }
    await this.#publisher.send(outgoing)
    return { ids }
  }

  async subscribe(options: SubscribeOptions): Promise<Consumer> {
    this.#checkOpen()
    const subscription = resolveSubscription(options)
    const { names, logger, ackWaitMs, leaseMs, rebalanceIntervalMs } = this.settings
    const sources: ShardSource[] = []
    for (let shard = 0; shard < names.shards; shard++) {
      const durable = names.durable(subscription.group, shard)
      await ensureConsumer(this.jsm, names, durable, shard, ackWaitMs)
      sources.push({
        nc: this.connection,
        pullSubject: `$JS.API.CONSUMER.MSG.NEXT.${names.eventsStream}.${durable}`,
        info: () => this.jsm.consumers.info(names.eventsStream, durable),
      })
    }
    const deps = {
      names,
      kv: this.#kv,
      publisher: this.#publisher,
      logger,
      ackWaitMs,
      leaseMs,
      rebalanceIntervalMs,
      // Forgotten once stopped: a service that subscribes and stops over and over keeps no trace.
      stopped: (member: NatsMember) => this.#members.delete(member),
    }
    const member = new NatsMember(deps, subscription)
    await member.start(sources)
    this.#members.add(member)
    return member
  }

  /**
   * The client reconnects by itself; the logger and the members hear about it. Pulls open before a
   * reconnect may be gone with the server's state: every member asks again now, not after a
   * silence. Ends when the connection closes.
   */
  async #followStatus(): Promise<void> {
    for await (const status of this.connection.status()) {
      if (status.type === 'disconnect') this.settings.logger?.warn?.('nats connection lost; reconnecting')
      if (status.type === 'reconnect') {
        this.settings.logger?.debug?.('nats reconnected')
        for (const member of this.#members) member.reconnected()
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#members].map((m) => m.stop()))
    await this.connection.close()
  }

  #checkOpen(): void {
    if (this.#closed) throw new TransportClosedError()
  }
}

async function ensureStream(jsm: JetStreamManager, config: { name: string; subjects: string[]; retention: RetentionPolicy }) {
  try {
    await jsm.streams.info(config.name)
  } catch {
    await jsm.streams.add(config)
  }
}

/**
 * The first member creates the group's consumer for a shard; later ones take it as it is (adding
 * it again with another config, such as another ack wait, would fail), except one made by an
 * eventfold that took a shard's messages one at a time (`max_ack_pending: 1`): raised in place.
 */
async function ensureConsumer(jsm: JetStreamManager, names: Names, durable: string, shard: number, ackWaitMs: number) {
  const existing = await jsm.consumers.info(names.eventsStream, durable).catch(() => undefined)
  if (existing !== undefined) {
    if ((existing.config.max_ack_pending ?? 0) < MAX_ACK_PENDING)
      await jsm.consumers.update(names.eventsStream, durable, { max_ack_pending: MAX_ACK_PENDING })
    return
  }
  await jsm.consumers.add(names.eventsStream, {
    durable_name: durable,
    filter_subject: names.shardFilter(shard),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    max_ack_pending: MAX_ACK_PENDING,
    max_deliver: -1,
    ack_wait: ackWaitMs * NANOS_PER_MS,
  })
}
