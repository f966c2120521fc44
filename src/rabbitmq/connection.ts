import amqp, { type Channel, type ChannelModel } from 'amqplib'
import { sleep } from '../core/timing.js'
import type { Logger } from '../core/types.js'
import { TransportClosedError, TransportUnavailableError } from '../messaging/errors.js'

type Listener = (model: ChannelModel) => Promise<void>

/**
 * One AMQP connection that comes back by itself. When the broker closes it (restart, an operator,
 * a network cut), it reconnects with capped exponential backoff and calls every `onConnect`
 * listener again, so publishers and consumers rebuild their channels on the new connection.
 */
export class ReconnectingConnection {
  #model: ChannelModel | undefined
  #waiting: Promise<ChannelModel> | undefined
  #listeners = new Set<Listener>()
  #closed = false

  constructor(
    private readonly url: string,
    private readonly logger: Logger | undefined,
  ) {}

  get closed(): boolean {
    return this.#closed
  }

  /** The live connection, waiting (forever, unless closed) for one to come back. */
  async model(): Promise<ChannelModel> {
    if (this.#closed) throw new TransportClosedError()
    if (this.#model !== undefined) return this.#model
    this.#waiting ??= this.#connectLoop()
    return this.#waiting
  }

  /** Connects once, failing fast: a wrong URL at start-up is an error, not a wait. */
  async open(): Promise<void> {
    try {
      this.#adopt(await amqp.connect(this.url))
    } catch (cause) {
      throw new TransportUnavailableError(`Cannot connect to RabbitMQ: ${(cause as Error).message}`, cause)
    }
  }

  /** Runs after every reconnection (not on the first connection). Returns the unsubscribe. */
  onConnect(listener: Listener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** A channel whose errors are handled (an unhandled 'error' would crash the process). */
  async channel(confirm = false): Promise<Channel> {
    const model = await this.model()
    const channel = confirm ? await model.createConfirmChannel() : await model.createChannel()
    channel.on('error', (error: Error) => this.logger?.debug?.('rabbitmq channel error', { error: error.message }))
    return channel
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const model = this.#model
    this.#model = undefined
    await model?.close().catch(() => {})
  }

  #adopt(model: ChannelModel): void {
    this.#model = model
    model.on('error', (error: Error) => this.logger?.warn?.('rabbitmq connection error', { error: error.message }))
    model.on('close', () => {
      if (this.#model !== model) return
      this.#model = undefined
      if (this.#closed) return
      this.logger?.warn?.('rabbitmq connection lost; reconnecting')
      this.#waiting ??= this.#connectLoop()
    })
  }

  async #connectLoop(): Promise<ChannelModel> {
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new TransportClosedError()
      try {
        const model = await amqp.connect(this.url)
        if (this.#closed) {
          await model.close().catch(() => {})
          throw new TransportClosedError()
        }
        this.#adopt(model)
        this.#waiting = undefined
        for (const listener of this.#listeners) {
          await listener(model).catch((error: Error) =>
            this.logger?.error?.('rabbitmq set-up after reconnect failed', { error: error.message }),
          )
        }
        return model
      } catch (error) {
        if (this.#closed) throw new TransportClosedError()
        this.logger?.debug?.('rabbitmq reconnect failed', { attempt, error: (error as Error).message })
        await sleep(Math.min(2_000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2))
      }
    }
  }
}
