import type { Msg, MsgHdrs } from '@nats-io/transport-node'
import { fromHeaders, rawFields } from './wire.js'

const ACK = Uint8Array.of(43, 65, 67, 75) // +ACK
const NAK = Uint8Array.of(45, 78, 65, 75) // -NAK
const WORKING = Uint8Array.of(43, 87, 80, 73) // +WPI

/** Where the dots of the reply subject being read are (a delivery is read at a time, whole). */
const DOTS = new Int32Array(10)

/** The `n`th dot-separated token after the first (of `count` dots found) as a number, as `Number` reads it. */
function tokenNumber(reply: string, n: number, count: number): number {
  // Not that many dots: not a subject of the expected form, read as the whole (NaN).
  if (n >= count) return Number(reply)
  const from = (DOTS[n] as number) + 1
  const to = n + 1 < count ? (DOTS[n + 1] as number) : reply.length
  let value = 0
  for (let i = from; i < to; i++) {
    const digit = reply.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) return Number(reply.slice(from, to))
    value = value * 10 + digit
  }
  return value
}

/**
 * A message JetStream delivered to a pull of ours, read off the core subscription it arrived on
 * (the library turns only its own fetches' messages into its message type). What it needs is in
 * the reply subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<delivery seq>.…`, with
 * a domain and an account hash after `ACK` in the newer form.
 */
export class Delivery {
  /** Position in the stream: the same for every delivery of a message. */
  readonly seq: number
  /** Position among the consumer's deliveries: every delivery, redeliveries too, takes the next. */
  readonly dseq: number
  /** How many times JetStream delivered this message, this time included. */
  readonly deliveryCount: number

  constructor(private readonly msg: Msg) {
    // The three numbers follow the stream and consumer names (names hold no dots), counted from the
    // front: the 5th token in the 9-token form, the 7th in the longer one. Read in place, with no
    // string or closure made, once per delivery.
    const reply = msg.reply ?? ''
    let count = 0
    for (let i = reply.indexOf('.'); i !== -1 && count < DOTS.length; i = reply.indexOf('.', i + 1)) DOTS[count++] = i
    const first = count === 8 ? 3 : 5
    this.deliveryCount = tokenNumber(reply, first, count)
    this.seq = tokenNumber(reply, first + 1, count)
    this.dseq = tokenNumber(reply, first + 2, count)
  }

  static isDelivery(msg: Msg): boolean {
    return msg.reply?.startsWith('$JS.ACK.') === true
  }

  get data(): Uint8Array {
    return this.msg.data
  }

  get headers(): MsgHdrs | undefined {
    return this.msg.headers
  }

  #fields: Record<string, string> | undefined

  /** The headers as one record, read once. */
  get fields(): Record<string, string> {
    this.#fields ??= rawFields(this.msg) ?? fromHeaders(this.msg.headers)
    return this.#fields
  }

  ack(): void {
    this.msg.respond(ACK)
  }

  nak(): void {
    this.msg.respond(NAK)
  }

  /** Restarts the ack wait. */
  working(): void {
    this.msg.respond(WORKING)
  }
}
