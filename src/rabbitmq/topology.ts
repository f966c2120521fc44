import type { Channel } from 'amqplib'
import { H } from './headers.js'
import type { Names } from './names.js'

/** Quorum queues: replicated, and they hand a returned message back at its place, which per-key order relies on. */
const quorum = { 'x-queue-type': 'quorum' }
// At-least-once dead-lettering (quorum only) needs reject-publish overflow; no length limit is set, so it never rejects.
const safeDeadLettering = { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' }

export async function assertExchanges(channel: Channel, names: Names): Promise<void> {
  await channel.assertExchange(names.events, 'topic', { durable: true })
  await channel.assertExchange(names.deadLetters, 'direct', { durable: true })
  await channel.assertExchange(names.redeliver, 'headers', { durable: true })
}

export interface GroupTopology {
  group: string
  types: readonly string[] | undefined
  /** Deliveries after which the broker itself dead-letters a message (a consumer died on it each time). */
  deliveryLimit: number
}

/** Idempotent: every member of a group declares the same, at start and after each reconnect. */
export async function assertGroup(channel: Channel, names: Names, topology: GroupTopology): Promise<void> {
  const { group, types, deliveryLimit } = topology
  await assertExchanges(channel, names)
  const deadQueue = names.deadQueue(group)
  await channel.assertQueue(deadQueue, { durable: true, arguments: quorum })
  await channel.bindQueue(deadQueue, names.deadLetters, group)
  await channel.assertQueue(names.membersQueue(group), { durable: true })
  for (let shard = 0; shard < names.shards; shard++) {
    const queue = names.shardQueue(group, shard)
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        ...quorum,
        ...safeDeadLettering,
        'x-dead-letter-exchange': names.deadLetters,
        'x-dead-letter-routing-key': group,
        'x-delivery-limit': deliveryLimit,
      },
    })
    await channel.assertQueue(names.lockQueue(group, shard), { durable: true })
    for (const pattern of types ?? ['#']) await channel.bindQueue(queue, names.events, names.routingKey(shard, pattern))
    await channel.bindQueue(queue, names.redeliver, '', { 'x-match': 'all', [H.returnTo]: queue })
  }
}

export async function assertDelayQueue(channel: Channel, names: Names, delayMs: number): Promise<string> {
  const queue = names.delayQueue(delayMs)
  await channel.assertQueue(queue, {
    durable: true,
    arguments: { ...quorum, ...safeDeadLettering, 'x-message-ttl': delayMs, 'x-dead-letter-exchange': names.redeliver },
  })
  return queue
}
