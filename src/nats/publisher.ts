import { sleep } from '../core/timing.js'
import { PublishNotConfirmedError, TransportUnavailableError } from '../messaging/errors.js'
import { type Flight, type NatsLink, PubAcks, Refusal } from './pub-acks.js'
import { toHeaders } from './wire.js'

/**
 * A publish caught by a cut connection is not answered, only timed out. Short attempts find that out
 * quickly; sending again is safe (the duplicate window), so a false timeout costs nothing but a try.
 */
const ATTEMPT_TIMEOUT_MS = 2_000
const RETRY_DELAY_MS = 100

export interface NatsOutgoing {
  id: string
  subject: string
  body: Uint8Array
  headers: Record<string, string>
  /** JetStream drops a second publish with the same id inside the stream's duplicate window. */
  msgId?: string
}

/**
 * Publishes to JetStream and resolves on its acknowledgement of every message (each is stored). A
 * publish that times out while the client reconnects is sent again with the same message id, which
 * the stream's duplicate window turns into a no-op if the first one was stored after all.
 */
export class NatsPublisher {
  readonly #acks: PubAcks

  constructor(
    link: NatsLink,
    private readonly timeoutMs: number,
    private readonly attemptTimeoutMs = ATTEMPT_TIMEOUT_MS,
  ) {
    this.#acks = new PubAcks(link)
  }

  async send(messages: readonly NatsOutgoing[]): Promise<void> {
    if (messages.length === 0) return
    const deadline = Date.now() + this.timeoutMs
    let flights: Flight[] = messages.map(flightOf)
    for (;;) {
      const { unconfirmed, cause } = await this.#attempt(flights)
      if (unconfirmed.length === 0) return
      if (Date.now() > deadline) {
        throw new TransportUnavailableError('NATS did not store the message before the publish timeout', cause)
      }
      await sleep(RETRY_DELAY_MS)
      flights = unconfirmed
    }
  }

  async #attempt(flights: Flight[]) {
    try {
      return await this.#acks.send(flights, this.attemptTimeoutMs)
    } catch (error) {
      if (error instanceof Refusal) throw new PublishNotConfirmedError(error.flight.id, error.cause)
      throw error
    }
  }
}

function flightOf({ id, subject, body, headers, msgId }: NatsOutgoing): Flight {
  return { id, subject, body, headers: toHeaders(headers, msgId) }
}
