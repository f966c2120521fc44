import { connect } from '@nats-io/transport-node'
import { InvalidInputError } from '../core/errors.js'
import { positiveInteger } from '../core/numbers.js'
import { TransportUnavailableError } from '../messaging/errors.js'
import type { TransportOptions } from '../messaging/types.js'
import { Names } from './names.js'
import { NatsTransport } from './transport.js'

export type { NatsTransport } from './transport.js'

export interface NatsTransportOptions extends TransportOptions {
  /** e.g. `127.0.0.1:4222` or several. */
  servers: string | string[]
  /** Prefix of the streams and subjects; services that talk to each other use the same. Default `eventfold`. */
  prefix?: string
  /** Shards per group: how many keys run in parallel. Every client of a prefix must agree. Default 16. */
  shards?: number
  /** How long `publish` keeps trying while the connection is down. Default 30 000. */
  publishTimeoutMs?: number
  /**
   * How long JetStream waits for an acknowledgement before it redelivers to another member: how
   * soon a crashed member's message moves on. Running handlers keep theirs alive. Default 10 000.
   */
  ackWaitMs?: number
  /** How long a shard stays with a member that stopped renewing its lease (crashed): how soon the shard moves on. Default 5 000. */
  leaseMs?: number
  /** How often a member counts the group and takes or gives back shards. Default 1 000 (at most a third of `leaseMs`). */
  rebalanceIntervalMs?: number
}

/**
 * A transport on NATS JetStream: one stream for events with a durable pull consumer per group and
 * shard, each shard read by one member at a time under a lease kept in a key-value bucket, retries
 * in the consumer, dead letters in a stream of their own. The client
 * reconnects by itself. Resolves once connected and the streams exist.
 *
 * @example
 * const transport = await createNatsTransport({ servers: '127.0.0.1:4222' })
 * await transport.subscribe({ group: 'billing', handler: async (m) => charge(m.data) })
 */
export async function createNatsTransport(options: NatsTransportOptions): Promise<NatsTransport> {
  const prefix = options.prefix ?? 'eventfold'
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(prefix))
    throw new InvalidInputError('INVALID_ARGUMENT', 'prefix must be letters, digits, _ or -', 'prefix')
  const names = new Names(prefix, positiveInteger(options.shards ?? 16, 'shards'))
  let connection: Awaited<ReturnType<typeof connect>>
  try {
    connection = await connect({
      servers: options.servers,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // Every publish and pull is a request; capturing a stack for each cost a fifth of the CPU of
      // publishing. Errors reach callers wrapped in eventfold's own, which carry their own stack.
      noAsyncTraces: true,
    })
  } catch (cause) {
    throw new TransportUnavailableError(`Cannot connect to NATS: ${(cause as Error).message}`, cause)
  }
  try {
    return await NatsTransport.open(connection, {
      names,
      source: options.source ?? 'eventfold',
      logger: options.logger,
      publishTimeoutMs: positiveInteger(options.publishTimeoutMs ?? 30_000, 'publishTimeoutMs'),
      ackWaitMs: positiveInteger(options.ackWaitMs ?? 10_000, 'ackWaitMs'),
      leaseMs: positiveInteger(options.leaseMs ?? 5_000, 'leaseMs'),
      rebalanceIntervalMs: positiveInteger(options.rebalanceIntervalMs ?? 1_000, 'rebalanceIntervalMs'),
    })
  } catch (error) {
    await connection.close()
    throw error
  }
}
