import { Redis } from 'ioredis'
import { InvalidInputError } from '../core/errors.js'
import { positiveInteger } from '../core/numbers.js'
import { TransportUnavailableError } from '../messaging/errors.js'
import type { TransportOptions } from '../messaging/types.js'
import { Keys } from './keys.js'
import { RedisTransport } from './transport.js'

export type { RedisTransport } from './transport.js'

export interface RedisTransportOptions extends TransportOptions {
  /** e.g. `redis://127.0.0.1:6379/0`. */
  url: string
  /** Prefix of every key; services that talk to each other use the same. Default `eventfold`. */
  prefix?: string
  /** Shard streams: how many keys run in parallel. Every client of a prefix must agree. Default 16. */
  shards?: number
  /** How long a shard stays with a member that stopped renewing (crashed): how soon its messages move on. Default 5 000. */
  leaseMs?: number
  /** How often a member renews its leases, counts the group and takes or gives back shards. Default 250 (at most a third of `leaseMs`). */
  rebalanceIntervalMs?: number
  /** Entries kept per shard stream (approximately); older ones are trimmed even if a group has not read them. Default 100 000. */
  maxLength?: number
}

/**
 * A transport on Redis Streams: a stream per shard read through one consumer group per eventfold
 * group, XACK on success, XAUTOCLAIM to take over what a dead member left, dead letters in a stream
 * per group. ioredis reconnects by itself.
 *
 * Durability is Redis's: a message is acknowledged to `publish` once it is in Redis's memory. A
 * Redis without persistence (no RDB, no AOF, as on the machines these tests run on) loses every
 * stream, pending entry and dead letter when it restarts; with `appendfsync everysec` up to a second.
 * Choose RabbitMQ or NATS where a message must outlive the broker's process.
 *
 * @example
 * const transport = await createRedisTransport({ url: 'redis://127.0.0.1:6379' })
 */
export async function createRedisTransport(options: RedisTransportOptions): Promise<RedisTransport> {
  const prefix = options.prefix ?? 'eventfold'
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(prefix))
    throw new InvalidInputError('INVALID_ARGUMENT', 'prefix must be letters, digits, _ or -', 'prefix')
  const keys = new Keys(prefix, positiveInteger(options.shards ?? 16, 'shards'))
  // No retry limit per command: a publish or a read waits for the connection to come back, which ioredis does by itself.
  const redis = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: null, connectionName: `eventfold-${prefix}` })
  redis.on('error', (error: Error) => options.logger?.debug?.('redis connection error', { error: error.message }))
  redis.on('reconnecting', () => options.logger?.warn?.('redis connection lost; reconnecting'))
  try {
    await redis.connect()
  } catch (cause) {
    redis.disconnect()
    throw new TransportUnavailableError(`Cannot connect to Redis: ${(cause as Error).message}`, cause)
  }
  return new RedisTransport(redis, {
    keys,
    source: options.source ?? 'eventfold',
    logger: options.logger,
    leaseMs: positiveInteger(options.leaseMs ?? 5_000, 'leaseMs'),
    rebalanceIntervalMs: positiveInteger(options.rebalanceIntervalMs ?? 250, 'rebalanceIntervalMs'),
    maxLength: positiveInteger(options.maxLength ?? 100_000, 'maxLength'),
  })
}
