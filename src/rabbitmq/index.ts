import { InvalidInputError } from '../core/errors.js'
import { positiveInteger } from '../core/numbers.js'
import type { TransportOptions } from '../messaging/types.js'
import { Names } from './names.js'
import { RabbitMqTransport } from './transport.js'

export type { RabbitMqTransport } from './transport.js'

export interface RabbitMqTransportOptions extends TransportOptions {
  /** e.g. `amqp://user:password@host:5672/vhost`. */
  url: string
  /** Prefix of every exchange and queue; services that talk to each other use the same. Default `eventfold`. */
  prefix?: string
  /**
   * Shard queues per consumer group: the most members that share a group's load, and the unit of
   * per-key order. Every publisher and consumer of a prefix must agree on it. Default 16.
   */
  shards?: number
  /** How long `publish` waits for a lost connection to come back before failing. Default 30 000. */
  publishTimeoutMs?: number
  /** How often a member checks the group's size and takes or gives back shards: how soon a new or dead member counts. Default 250. */
  rebalanceIntervalMs?: number
  /** Deliveries after which the broker dead-letters a message whose consumers keep dying on it. Default 20. */
  deliveryLimit?: number
}

/**
 * A transport on RabbitMQ: a topic exchange, quorum shard queues per consumer group, retries
 * through TTL delay queues, dead letters in a quorum queue per group, publisher confirms, and a
 * connection that comes back by itself. Resolves once connected.
 *
 * @example
 * const transport = await createRabbitMqTransport({ url: 'amqp://guest:guest@localhost:5672' })
 * await transport.subscribe({ group: 'billing', concurrency: 8, handler: async (m) => charge(m.data) })
 * await transport.publish([{ type: 'OrderPlaced', data: { orderId: 'o-1' }, partitionKey: 'o-1' }])
 */
export async function createRabbitMqTransport(options: RabbitMqTransportOptions): Promise<RabbitMqTransport> {
  if (typeof options.url !== 'string' || options.url === '')
    throw new InvalidInputError('INVALID_ARGUMENT', 'url is required', 'url')
  const prefix = options.prefix ?? 'eventfold'
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(prefix))
    throw new InvalidInputError('INVALID_ARGUMENT', 'prefix must be letters, digits, _ or -', 'prefix')
  const transport = new RabbitMqTransport({
    url: options.url,
    names: new Names(prefix, positiveInteger(options.shards ?? 16, 'shards')),
    source: options.source ?? 'eventfold',
    logger: options.logger,
    publishTimeoutMs: positiveInteger(options.publishTimeoutMs ?? 30_000, 'publishTimeoutMs'),
    rebalanceIntervalMs: positiveInteger(options.rebalanceIntervalMs ?? 250, 'rebalanceIntervalMs'),
    deliveryLimit: positiveInteger(options.deliveryLimit ?? 20, 'deliveryLimit'),
  })
  await transport.open()
  return transport
}
