import type { Redis } from 'ioredis'
import type { Logger } from '../core/types.js'
import { encodeBinaryJson } from '../messaging/binary-mode.js'
import { createMessageWithJson, type OutgoingMessage } from '../messaging/envelope.js'
import { TransportClosedError, TransportUnavailableError } from '../messaging/errors.js'
import { resolveSubscription } from '../messaging/retry.js'
import type { Consumer, PublishResult, SubscribeOptions, Transport, TransportCapabilities } from '../messaging/types.js'
import { RedisDeadLetters } from './dead-letters.js'
import type { Keys } from './keys.js'
import { RedisMember } from './member.js'
import { entryOf } from './wire.js'

export interface RedisSettings {
  keys: Keys
  source: string
  logger: Logger | undefined
  leaseMs: number
  rebalanceIntervalMs: number
  maxLength: number
}

export class RedisTransport implements Transport {
  readonly capabilities: TransportCapabilities = {
    supportsOrderingKey: true,
    // Retries wait in the consumer's memory, holding their key; a consumer that dies while waiting leaves the entry pending.
    supportsDelayedDelivery: false,
    supportsNativeDeadLettering: false,
    // Within what Redis itself keeps: an entry read but not acknowledged stays pending for the next lease holder.
    survivesConsumerCrash: true,
    // The retry waits in the consumer, holding its key.
    retriesKeepKeyOrder: true,
  }
  readonly deadLetters: RedisDeadLetters
  #members = new Set<RedisMember>()
  #closed = false

  constructor(
    private readonly redis: Redis,
    private readonly settings: RedisSettings,
  ) {
    this.deadLetters = new RedisDeadLetters(redis, settings.keys)
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<PublishResult> {
    this.#checkOpen()
    const { keys, source, maxLength } = this.settings
    // Every message is checked (and encoded) before anything is sent: a bad one fails the batch whole.
    const created = messages.map((m, i) => createMessageWithJson(m, source, i))
    const entries = created.map(({ message, json }) => ({
      stream: keys.shardStream(keys.shardOf(message.partitionKey ?? message.id)),
      fields: entryOf(encodeBinaryJson(message, 'kafka', json)),
    }))
    // Approximate trimming: cheap, and the bound is what keeps memory finite (see `maxLength`).
    const trim = ['MAXLEN', '~', maxLength, '*'] as const
    const [single] = entries
    if (entries.length === 1 && single !== undefined) {
      // One XADD is atomic by itself: MULTI and EXEC around it were two more commands and a
      // transaction object on the path of every single publish (the latency of a request/reply).
      await this.redis.xadd(single.stream, ...trim, ...single.fields).catch((cause: unknown) => {
        throw new TransportUnavailableError('Redis did not take the messages', cause)
      })
    } else {
      const batch = this.redis.multi()
      for (const { stream, fields } of entries) batch.xadd(stream, ...trim, ...fields)
      const results = await batch.exec()
      const failed = results?.find(([error]) => error !== null)
      if (results === null || failed !== undefined)
        throw new TransportUnavailableError('Redis did not take the messages', failed?.[0])
    }
    return { ids: created.map((c) => c.message.id) }
  }

  async subscribe(options: SubscribeOptions): Promise<Consumer> {
    this.#checkOpen()
    const subscription = resolveSubscription(options)
    const { keys, logger, leaseMs, rebalanceIntervalMs } = this.settings
    const deps = { redis: this.redis, keys, deadLetters: this.deadLetters, logger, leaseMs, rebalanceIntervalMs }
    const member = new RedisMember(deps, subscription)
    await member.start()
    this.#members.add(member)
    return member
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#members].map((m) => m.stop()))
    await this.redis.quit().catch(() => this.redis.disconnect())
  }

  #checkOpen(): void {
    if (this.#closed) throw new TransportClosedError()
  }
}
