import { InvalidInputError } from '../core/errors.js'
import type { Logger } from '../core/types.js'
import { encodeBinaryJson } from '../messaging/binary-mode.js'
import { createMessageWithJson, type OutgoingMessage } from '../messaging/envelope.js'
import { TransportClosedError } from '../messaging/errors.js'
import { resolveSubscription } from '../messaging/retry.js'
import type { Consumer, PublishResult, SubscribeOptions, Transport, TransportCapabilities } from '../messaging/types.js'
import { ReconnectingConnection } from './connection.js'
import { RabbitDeadLetters } from './dead-letters.js'
import { RabbitMember } from './member.js'
import type { Names } from './names.js'
import { type Outgoing, Publisher } from './publisher.js'
import { assertExchanges } from './topology.js'

export interface RabbitSettings {
  url: string
  names: Names
  source: string
  logger: Logger | undefined
  publishTimeoutMs: number
  rebalanceIntervalMs: number
  deliveryLimit: number
}

export class RabbitMqTransport implements Transport {
  readonly capabilities: TransportCapabilities = {
    supportsOrderingKey: true,
    supportsDelayedDelivery: true,
    // Quorum queues dead-letter by themselves a message delivered `deliveryLimit` times (its consumers kept dying).
    supportsNativeDeadLettering: true,
    survivesConsumerCrash: true,
    // A retry is a new message in a delay queue; the shard queue goes on meanwhile.
    retriesKeepKeyOrder: false,
  }
  readonly deadLetters: RabbitDeadLetters
  readonly #connection: ReconnectingConnection
  readonly #publisher: Publisher
  #members = new Set<RabbitMember>()
  #closed = false

  constructor(private readonly settings: RabbitSettings) {
    this.#connection = new ReconnectingConnection(settings.url, settings.logger)
    this.#publisher = new Publisher(this.#connection, settings.names, settings.publishTimeoutMs)
    this.deadLetters = new RabbitDeadLetters(this.#connection, settings.names, this.#publisher)
  }

  /** Connects and declares the exchanges, so that other consumers can bind to them before anything is published. */
  async open(): Promise<void> {
    await this.#connection.open()
    const channel = await this.#connection.channel()
    await assertExchanges(channel, this.settings.names)
    await channel.close()
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<PublishResult> {
    this.#checkOpen()
    const { names, source } = this.settings
    const exchange = names.events
    const ids: string[] = new Array(messages.length)
    const outgoing: Outgoing[] = new Array(messages.length)
    // Every message is checked before any is sent: a bad one fails the batch with nothing published.
    for (let i = 0; i < messages.length; i++) {
      const { message, json } = createMessageWithJson(messages[i] as OutgoingMessage, source, i)
      checkRoutable(message.type, `messages[${i}].type`)
      const { headers, contentType, body } = encodeBinaryJson(message, 'amqp', json)
      // Keyless messages spread over the shards by id; keyed ones always land in their key's shard.
      const shard = names.shardOf(message.partitionKey ?? message.id)
      ids[i] = message.id
      outgoing[i] = {
        id: message.id,
        exchange,
        routingKey: names.routingKey(shard, message.type),
        content: body,
        options: { persistent: true, contentType, messageId: message.id, headers },
      }
    }
    await this.#publisher.send(outgoing)
    return { ids }
  }

  async subscribe(options: SubscribeOptions): Promise<Consumer> {
    this.#checkOpen()
    const subscription = resolveSubscription(options)
    for (const [i, type] of (subscription.types ?? []).entries()) checkRoutable(type, `types[${i}]`)
    const { names, logger, rebalanceIntervalMs, deliveryLimit } = this.settings
    const settler = { publisher: this.#publisher, names, logger }
    const member = new RabbitMember(
      { connection: this.#connection, names, settler, logger, rebalanceIntervalMs, deliveryLimit },
      subscription,
    )
    await member.start()
    this.#members.add(member)
    return member
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#members].map((m) => m.stop()))
    await this.#publisher.close()
    await this.#connection.close()
  }

  #checkOpen(): void {
    if (this.#closed) throw new TransportClosedError()
  }
}

/**
 * The type is part of the routing key: a topic binding would read `*` and `#` as wildcards, and
 * RabbitMQ refuses keys over 255 bytes by closing the channel, which a publisher would only see as a timeout.
 */
function checkRoutable(type: string, field: string): void {
  if (type === lastRoutable) return
  if (/[*#]/.test(type) || Buffer.byteLength(type) > 200) {
    throw new InvalidInputError('INVALID_ARGUMENT', 'a RabbitMQ message type has no * or # and at most 200 bytes', field)
  }
  lastRoutable = type
}

// A batch is mostly of one type: checked once.
let lastRoutable = ''
