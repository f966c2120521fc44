import { JetStreamApiError } from '@nats-io/jetstream'
import { createInbox, type Msg, type MsgHdrs, type NatsConnection, TimeoutError } from '@nats-io/transport-node'

/** What the acknowledgements need of a connection: a `NatsConnection` is one. */
export type NatsLink = Pick<NatsConnection, 'publish' | 'subscribe'>

/** A message to store, headers built once: every attempt sends the same, `Nats-Msg-Id` included. */
export interface Flight {
  id: string
  subject: string
  body: Uint8Array
  headers: MsgHdrs
}

/** What became of an attempt: the flights not stored, to send again, and why the last of them failed. */
export interface AttemptResult {
  unconfirmed: Flight[]
  cause: unknown
}

/** The stream answered with an error: sending again would not change its mind. */
export class Refusal extends Error {
  constructor(
    readonly flight: Flight,
    override readonly cause: JetStreamApiError,
  ) {
    super(cause.message)
  }
}

/**
 * JetStream publishes whose acknowledgements come to one subscription, a reply subject per message.
 * What `JetStreamClient.publish` does per message, without its per-message timer, promise, random
 * token and error object (it makes one to reject a request it has already answered): those were
 * most of a publish's CPU, several times the cost of the message itself. A batch has one timer.
 */
export class PubAcks {
  readonly #link: NatsLink
  readonly #prefix = `${createInbox()}.`
  readonly #waiting = new Map<number, Attempt>()
  #next = 0

  constructor(link: NatsLink) {
    this.#link = link
    // The client subscribes again by itself after a reconnect, as it does for its own request inbox.
    link.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => {
        // An error closes the subscription (a permission refused): attempts then time out, as they would unanswered.
        if (error === null) this.#answer(msg)
      },
    })
  }

  /** Sends each flight once; resolves when each is answered or `timeoutMs` passed, rejects with a `Refusal`. */
  send(flights: readonly Flight[], timeoutMs: number): Promise<AttemptResult> {
    return new Promise((resolve, reject) => {
      const attempt = new Attempt(flights, this.#next, this.#waiting, resolve, reject)
      this.#next += flights.length
      for (let i = 0; i < flights.length && !attempt.ended; i++) this.#publish(attempt, i)
      attempt.expireAfter(timeoutMs)
    })
  }

  #publish(attempt: Attempt, index: number): void {
    const flight = attempt.flights[index] as Flight
    const token = attempt.first + index
    this.#waiting.set(token, attempt)
    try {
      this.#link.publish(flight.subject, flight.body, { reply: this.#prefix + token, headers: flight.headers })
    } catch (error) {
      // Closed or draining connection: a failed attempt like a timeout, sent again until the deadline.
      this.#waiting.delete(token)
      attempt.answer(index, error)
    }
  }

  #answer(msg: Msg): void {
    const token = Number(msg.subject.slice(this.#prefix.length))
    const attempt = this.#waiting.get(token)
    // An answer to an attempt already given up on: its message went again, and that answer counts.
    if (attempt === undefined) return
    this.#waiting.delete(token)
    attempt.answer(token - attempt.first, outcomeOf(msg.data))
  }
}

/** One sending of some flights, their reply tokens `first`, `first + 1`… */
class Attempt {
  readonly #waiting: Map<number, Attempt>
  readonly #resolve: (result: AttemptResult) => void
  readonly #reject: (refusal: Refusal) => void
  /** Indexes of the flights not stored, in no order. */
  readonly #unconfirmed: number[] = []
  #cause: unknown
  #left: number
  #timer: NodeJS.Timeout | undefined
  ended = false

  constructor(
    readonly flights: readonly Flight[],
    readonly first: number,
    waiting: Map<number, Attempt>,
    resolve: (result: AttemptResult) => void,
    reject: (refusal: Refusal) => void,
  ) {
    this.#waiting = waiting
    this.#resolve = resolve
    this.#reject = reject
    this.#left = flights.length
  }

  /** `true`: stored. An error: not stored, a `JetStreamApiError` for good. */
  answer(index: number, outcome: true | unknown): void {
    if (this.ended) return
    if (outcome instanceof JetStreamApiError) {
      this.#end(new Refusal(this.flights[index] as Flight, outcome))
      return
    }
    if (outcome !== true) {
      this.#unconfirmed.push(index)
      this.#cause = outcome
    }
    if (--this.#left === 0) this.#end()
  }

  expireAfter(ms: number): void {
    if (this.ended) return
    this.#timer = setTimeout(() => this.#expire(), ms)
  }

  #expire(): void {
    // A publish caught by a cut connection is not answered, only timed out.
    for (let i = 0; i < this.flights.length; i++) {
      if (this.#waiting.get(this.first + i) === this) this.#unconfirmed.push(i)
    }
    this.#cause = new TimeoutError()
    this.#end()
  }

  #end(refusal?: Refusal): void {
    this.ended = true
    clearTimeout(this.#timer)
    if (this.#left > 0) for (let i = 0; i < this.flights.length; i++) this.#forget(this.first + i)
    if (refusal !== undefined) this.#reject(refusal)
    // In the batch's order: a key's messages sent again go in the order they were published.
    else
      this.#resolve({
        unconfirmed: this.#unconfirmed.sort((a, b) => a - b).map((i) => this.flights[i] as Flight),
        cause: this.#cause,
      })
  }

  #forget(token: number): void {
    if (this.#waiting.get(token) === this) this.#waiting.delete(token)
  }
}

const decoder = new TextDecoder()

/** What a JetStream publish's answer says (a PubAck, or `{ error }`); anything else is a failed attempt. */
function outcomeOf(data: Uint8Array): true | Error {
  // A status without a body: no stream listens on the subject (yet; a stream leader may be moving).
  if (data.length === 0) return new Error('No stream answered the publish')
  let ack: { stream?: unknown; error?: ConstructorParameters<typeof JetStreamApiError>[0] }
  try {
    ack = JSON.parse(decoder.decode(data))
  } catch (cause) {
    return new Error('Unreadable answer to a publish', { cause })
  }
  if (ack.error !== undefined) return new JetStreamApiError(ack.error)
  if (typeof ack.stream !== 'string' || ack.stream === '') return new Error('Invalid answer to a publish')
  return true
}
