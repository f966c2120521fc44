import type { ConsumeMessage } from 'amqplib'
import type { Logger } from '../core/types.js'
import type { Outcome } from '../messaging/delivery.js'
import { H, originalHeaders } from './headers.js'
import type { ShardLease } from './lease.js'
import { delayBucket, type Names } from './names.js'
import type { Publisher } from './publisher.js'

export interface Settler {
  publisher: Publisher
  names: Names
  logger: Logger | undefined
}

/**
 * Acts on a handler's outcome. A retry or a dead letter is a new message, confirmed by the broker
 * before the original is acknowledged: a crash in between duplicates the message, never loses it.
 */
export async function settle(settler: Settler, lease: ShardLease, message: ConsumeMessage, outcome: Outcome): Promise<void> {
  if (outcome.kind === 'abandoned') return
  if (outcome.kind === 'ack') return lease.ack(message)
  const { names, publisher } = settler
  const group = lease.group
  const origin = names.shardQueue(group, lease.shard)
  const base = { content: message.content, id: outcome.message?.id ?? 'undecodable' }
  const properties = { persistent: true, contentType: message.properties.contentType, messageId: message.properties.messageId }
  try {
    if (outcome.kind === 'retry') {
      const attempt = (message.properties.headers?.[H.attempt] as number | undefined) ?? 1
      const bucket = delayBucket(outcome.delayMs)
      const headers = { ...originalHeaders(message), [H.attempt]: attemptAfter(message, attempt), [H.returnTo]: origin }
      // No delay: straight back to the shard queue (the default exchange routes by queue name).
      const routingKey = bucket === 0 ? origin : await publisher.delayQueue(bucket)
      await publisher.send([{ ...base, exchange: '', routingKey, options: { ...properties, headers } }])
    } else {
      const headers = {
        ...originalHeaders(message),
        [H.error]: JSON.stringify(outcome.error),
        [H.attempts]: outcome.attempts,
        [H.origin]: origin,
        [H.deadAt]: new Date().toISOString(),
        [H.deadLetterId]: outcome.message?.id ?? crypto.randomUUID(),
      }
      await publisher.send([{ ...base, exchange: names.deadLetters, routingKey: group, options: { ...properties, headers } }])
    }
    lease.ack(message)
  } catch (error) {
    settler.logger?.error?.('rabbitmq could not retry or dead-letter a message; it goes back to its queue', {
      error: (error as Error).message,
    })
    lease.requeue(message)
  }
}

/** The next attempt counts redeliveries too (a consumer that died on the message). */
function attemptAfter(message: ConsumeMessage, attempt: number): number {
  const redeliveries = message.properties.headers?.[H.deliveryCount]
  return attempt + (typeof redeliveries === 'number' ? redeliveries : 0) + 1
}
