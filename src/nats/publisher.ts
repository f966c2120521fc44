import { JetStreamApiError, type JetStreamClient, type JetStreamPublishOptions } from '@nats-io/jetstream'
import { sleep } from '../core/timing.js'
import { PublishNotConfirmedError, TransportUnavailableError } from '../messaging/errors.js'
import { toHeaders } from './wire.js'

/**
 * A publish caught by a cut connection is not answered, only timed out. Short attempts find that out
 * quickly; sending again is safe (the duplicate window), so a false timeout costs nothing but a try.
 */
const ATTEMPT_TIMEOUT_MS = 2_000

export interface NatsOutgoing {
  id: string
  subject: string
  body: Uint8Array
  headers: Record<string, string>
  /** JetStream drops a second publish with the same id inside the stream's duplicate window. */
  msgId?: string
}

/**
 * Publishes to JetStream and resolves on its acknowledgement (the message is stored). A publish
 * that times out while the client reconnects is sent again with the same message id, which the
 * stream's duplicate window turns into a no-op if the first one was stored after all.
 */
export class NatsPublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly timeoutMs: number,
  ) {}

  async send(messages: readonly NatsOutgoing[]): Promise<void> {
    const deadline = Date.now() + this.timeoutMs
    await Promise.all(messages.map((m) => this.#one(m, deadline)))
  }

  async #one(message: NatsOutgoing, deadline: number): Promise<void> {
    // The same headers object every attempt: the client sets Nats-Msg-Id on it, which a retry keeps.
    const options: Partial<JetStreamPublishOptions> = { headers: toHeaders(message.headers), timeout: ATTEMPT_TIMEOUT_MS }
    if (message.msgId) options.msgID = message.msgId
    for (;;) {
      try {
        await this.js.publish(message.subject, message.body, options)
        return
      } catch (error) {
        // The server answered and refused: sending again would not change its mind.
        if (error instanceof JetStreamApiError) throw new PublishNotConfirmedError(message.id, error)
        if (Date.now() > deadline) {
          throw new TransportUnavailableError('NATS did not store the message before the publish timeout', error)
        }
        await sleep(100)
      }
    }
  }
}
