import type { Redis } from 'ioredis'
import type { Logger } from '../core/types.js'
import { createMessageWithJson, type Message, type OutgoingMessage } from '../messaging/envelope.js'
import { TransportClosedError, TransportUnavailableError } from '../messaging/errors.js'
import { resolveSubscription } from '../messaging/retry.js'
import type { Consumer, PublishResult, SubscribeOptions, Transport, TransportCapabilities } from '../messaging/types.js'
import { RedisDeadLetters } from './dead-letters.js'
import type { Keys } from './keys.js'
import { RedisMember } from './member.js'
import { type EncodedCommand, encodedCommand, queueCommand, send } from './resp.js'
import { xaddArgs } from './wire.js'

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
  /** The shards' stream names and the trimming bound, made once rather than per message published. */
  readonly #streams: readonly string[]
  readonly #maxLength: string
  #closed = false

  constructor(
    private readonly redis: Redis,
    private readonly settings: RedisSettings,
  ) {
    this.deadLetters = new RedisDeadLetters(redis, settings.keys)
    this.#streams = Array.from({ length: settings.keys.shards }, (_, shard) => settings.keys.shardStream(shard))
    this.#maxLength = String(settings.maxLength)
  }

  /** Not async, and one promise for a single message: a request/reply waits for each publish in turn. */
  publish(messages: readonly OutgoingMessage[]): Promise<PublishResult> {
    let commands: EncodedCommand[]
    let result: PublishResult
    try {
      this.#checkOpen()
      // Every message is checked (and encoded) before anything is sent: a bad one fails the batch whole.
      const created = messages.map((m, i) => createMessageWithJson(m, this.settings.source, i))
      commands = created.map(({ message, json }) => encodedCommand('xadd', this.#xaddArgs(message, json)))
      result = { ids: created.map((c) => c.message.id) }
    } catch (error) {
      return Promise.reject(error)
    }
    const [single] = commands
    if (commands.length === 1 && single !== undefined) {
      // One XADD is atomic by itself: MULTI and EXEC around it were two more commands and a
      // transaction object on the path of every single publish (the latency of a request/reply).
      return send(this.redis, single).then(() => result, notTaken)
    }
    const batch = this.redis.multi()
    for (const command of commands) queueCommand(batch, command)
    return batch.exec().then((results) => {
      const failed = results?.find(([error]) => error !== null)
      if (results === null || failed !== undefined) return notTaken(failed?.[0])
      return result
    })
  }

  #xaddArgs(message: Message, json: string): string[] {
    const stream = this.#streams[this.settings.keys.shardOf(message.partitionKey ?? message.id)] as string
    return xaddArgs(stream, this.#maxLength, message, json)
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

function notTaken(cause: unknown): never {
  throw new TransportUnavailableError('Redis did not take the messages', cause)
}
