import type { Channel, GetMessage } from 'amqplib'
import { decodeBinary } from '../messaging/binary-mode.js'
import { rawOf } from '../messaging/delivery.js'
import type { Message } from '../messaging/envelope.js'
import { DeadLetterNotFoundError } from '../messaging/errors.js'
import type { DeadLetter, DeadLetterQueue } from '../messaging/types.js'
import type { ReconnectingConnection } from './connection.js'
import { H, headerNumber, headerString, originalHeaders, toIncoming } from './headers.js'
import type { Names } from './names.js'
import type { Publisher } from './publisher.js'

interface XDeath {
  reason?: string
  queue?: string
  count?: number
  time?: { value?: number }
}

/**
 * The dead letters of a group live in its quorum queue `<prefix>.<group>.dead`. Queues cannot be
 * browsed, so each call takes every message unacknowledged, acts on the ones it names, and closes
 * its channel, which hands the rest back in their order. Two calls at once therefore each miss what
 * the other holds: run dead-letter tooling from one place at a time.
 */
export class RabbitDeadLetters implements DeadLetterQueue {
  constructor(
    private readonly connection: ReconnectingConnection,
    private readonly names: Names,
    private readonly publisher: Publisher,
  ) {}

  async list(group: string, options: { limit?: number } = {}): Promise<DeadLetter[]> {
    return this.#withAll(group, async (_, all) => all.slice(0, options.limit ?? all.length).map((m) => toDeadLetter(group, m)))
  }

  async replay(group: string, ids: readonly string[]): Promise<void> {
    await this.#withAll(group, async (channel, all) => {
      for (const message of pick(all, ids)) {
        const key = headerString(message, H.partitionKey) ?? idOf(message)
        const queue = this.names.shardQueue(group, this.names.shardOf(key))
        const { contentType, messageId } = message.properties
        const options = { persistent: true, contentType, messageId, headers: originalHeaders(message) }
        await this.publisher.send([{ id: idOf(message), exchange: '', routingKey: queue, content: message.content, options }])
        channel.ack(message)
      }
    })
  }

  async discard(group: string, ids: readonly string[]): Promise<void> {
    await this.#withAll(group, async (channel, all) => {
      for (const message of pick(all, ids)) channel.ack(message)
    })
  }

  async #withAll<T>(group: string, work: (channel: Channel, all: GetMessage[]) => Promise<T>): Promise<T> {
    const channel = await this.connection.channel()
    try {
      const all: GetMessage[] = []
      try {
        for (
          let m = await channel.get(this.names.deadQueue(group));
          m !== false;
          m = await channel.get(this.names.deadQueue(group))
        ) {
          all.push(m)
        }
      } catch {
        // No such queue (the group never subscribed): no dead letters. The channel is closed by then.
        return work(channel, [])
      }
      return await work(channel, all)
    } finally {
      await channel.close().catch(() => {})
    }
  }
}

function idOf(message: GetMessage): string {
  return headerString(message, H.deadLetterId) ?? headerString(message, H.id) ?? String(message.properties.messageId)
}

/** All or nothing: an unknown id fails before anything is acknowledged. */
function pick(all: GetMessage[], ids: readonly string[]): GetMessage[] {
  return ids.map((id) => {
    const found = all.find((m) => idOf(m) === id)
    if (found === undefined) throw new DeadLetterNotFoundError(id)
    return found
  })
}

function toDeadLetter(group: string, message: GetMessage): DeadLetter {
  const death = (message.properties.headers?.['x-death'] as XDeath[] | undefined)?.[0]
  const recorded = headerString(message, H.error)
  const error =
    recorded !== undefined
      ? JSON.parse(recorded)
      : { message: `dead-lettered by RabbitMQ: ${death?.reason ?? 'unknown'}`, code: 'DELIVERY_LIMIT' }
  const deadAt = headerString(message, H.deadAt)
  const base = {
    id: idOf(message),
    group,
    error,
    attempts: headerNumber(message, H.attempts) ?? death?.count ?? 1,
    origin: headerString(message, H.origin) ?? death?.queue ?? 'unknown',
    deadLetteredAt: deadAt !== undefined ? new Date(deadAt) : new Date((death?.time?.value ?? 0) * 1000),
  }
  const incoming = { ...toIncoming(message), headers: originalHeaders(message) }
  let decoded: Message | undefined
  try {
    decoded = decodeBinary(incoming, 'amqp')
  } catch {
    return { ...base, raw: rawOf(incoming) }
  }
  return { ...base, message: decoded }
}
