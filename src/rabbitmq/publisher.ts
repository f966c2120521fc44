import type { ConfirmChannel } from 'amqplib'
import { isEventfoldError } from '../core/errors.js'
import { sleep } from '../core/timing.js'
import { TransportClosedError, TransportUnavailableError } from '../messaging/errors.js'
import { type Outgoing, publishBatch } from './confirms.js'
import type { ReconnectingConnection } from './connection.js'
import type { Names } from './names.js'
import { assertDelayQueue, assertExchanges } from './topology.js'

export type { Outgoing } from './confirms.js'

const UNAVAILABLE = 'RabbitMQ did not come back before the publish timeout'
const RESEND_PAUSE_MS = 10

/**
 * Publishes on a confirm channel and resolves only on the broker's confirm. A publish caught by a
 * lost connection is sent again on the next one (same message id), so a confirmed publish is
 * never lost; the price is a possible duplicate, which at-least-once consumers accept anyway.
 */
export class Publisher {
  #channel: Promise<ConfirmChannel> | undefined
  /** The channel once open, until it closes: most publishes need no wait (and no timer) to get it. */
  #ready: ConfirmChannel | undefined
  #delayQueues = new Map<number, Promise<string>>()

  constructor(
    private readonly connection: ReconnectingConnection,
    private readonly names: Names,
    private readonly timeoutMs: number,
  ) {}

  async send(messages: readonly Outgoing[]): Promise<void> {
    const deadline = Date.now() + this.timeoutMs
    let pending = messages
    while (pending.length > 0) {
      if (this.connection.closed) throw new TransportClosedError()
      if (pending !== messages && Date.now() > deadline) throw new TransportUnavailableError(UNAVAILABLE)
      const channel = this.#ready ?? (await this.#channelBefore(deadline))
      pending = await publishBatch(channel, pending)
      // A channel that is closing throws at once on publish until its 'close' event, which only a
      // turn of the event loop can deliver: trying again without a pause would starve it.
      if (pending.length > 0) await sleep(RESEND_PAUSE_MS)
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
        let closed = false
        channel.on('close', () => {
          closed = true
          if (this.#channel === opening) this.#channel = undefined
          if (this.#ready === channel) this.#ready = undefined
          this.#delayQueues.clear()
        })
        await assertExchanges(channel, this.names)
        if (!closed) this.#ready = channel
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
