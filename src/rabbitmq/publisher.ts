import type { ConfirmChannel, Options } from 'amqplib'
import { isEventfoldError } from '../core/errors.js'
import { sleep } from '../core/timing.js'
import { PublishNotConfirmedError, TransportClosedError, TransportUnavailableError } from '../messaging/errors.js'
import type { ReconnectingConnection } from './connection.js'
import type { Names } from './names.js'
import { assertDelayQueue, assertExchanges } from './topology.js'

export interface Outgoing {
  /** For errors: the message id. */
  id: string
  exchange: string
  routingKey: string
  content: Buffer
  options: Options.Publish
}

class Retryable extends Error {}

const UNAVAILABLE = 'RabbitMQ did not come back before the publish timeout'

/**
 * Publishes on a confirm channel and resolves only on the broker's confirm. A publish caught by a
 * lost connection is sent again on the next one (same message id), so a confirmed publish is
 * never lost; the price is a possible duplicate, which at-least-once consumers accept anyway.
 */
export class Publisher {
  #channel: Promise<ConfirmChannel> | undefined
  #delayQueues = new Map<number, Promise<string>>()

  constructor(
    private readonly connection: ReconnectingConnection,
    private readonly names: Names,
    private readonly timeoutMs: number,
  ) {}

  async send(messages: readonly Outgoing[]): Promise<void> {
    const deadline = Date.now() + this.timeoutMs
    let pending = [...messages]
    while (pending.length > 0) {
      const channel = await this.#channelBefore(deadline)
      const results = await Promise.allSettled(pending.map((m) => this.#publishOne(channel, m)))
      const failed = results.flatMap((r, i) =>
        r.status === 'rejected' ? [{ message: pending[i] as Outgoing, error: r.reason }] : [],
      )
      const refused = failed.find((f) => !(f.error instanceof Retryable))
      if (refused !== undefined) throw new PublishNotConfirmedError(refused.message.id, refused.error)
      pending = failed.map((f) => f.message)
    }
  }

  /** The delay queue for this many ms, declared once per connection. */
  async delayQueue(delayMs: number): Promise<string> {
    let queue = this.#delayQueues.get(delayMs)
    if (queue === undefined) {
      queue = this.#channelBefore(Date.now() + this.timeoutMs).then((channel) => assertDelayQueue(channel, this.names, delayMs))
      this.#delayQueues.set(delayMs, queue)
      queue.catch(() => this.#delayQueues.delete(delayMs))
    }
    return queue
  }

  async close(): Promise<void> {
    const channel = await this.#channel?.catch(() => undefined)
    await channel?.close().catch(() => {})
  }

  #publishOne(channel: ConfirmChannel, message: Outgoing): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        channel.publish(message.exchange, message.routingKey, message.content, message.options, (error) => {
          if (error === null || error === undefined) resolve()
          // amqplib reports a broker nack as 'message nacked'; anything else is the channel going away.
          else reject(String(error?.message ?? error).includes('nacked') ? error : new Retryable(String(error?.message)))
        })
      } catch (error) {
        reject(new Retryable((error as Error).message))
      }
    })
  }

  /** A confirm channel, trying again while the connection comes back, until `deadline`. */
  async #channelBefore(deadline: number): Promise<ConfirmChannel> {
    for (;;) {
      if (this.connection.closed) throw new TransportClosedError()
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TransportUnavailableError(UNAVAILABLE)), Math.max(0, deadline - Date.now()))
      })
      try {
        return await Promise.race([this.#confirmChannel(), late])
      } catch (error) {
        if (isEventfoldError(error)) throw error
        await sleep(50)
      } finally {
        clearTimeout(timer)
      }
    }
  }

  #confirmChannel(): Promise<ConfirmChannel> {
    if (this.#channel === undefined) {
      const opening = (async () => {
        const channel = (await this.connection.channel(true)) as ConfirmChannel
        channel.on('close', () => {
          if (this.#channel === opening) this.#channel = undefined
          this.#delayQueues.clear()
        })
        await assertExchanges(channel, this.names)
        return channel
      })()
      this.#channel = opening
      opening.catch(() => {
        if (this.#channel === opening) this.#channel = undefined
      })
    }
    return this.#channel
  }
}
