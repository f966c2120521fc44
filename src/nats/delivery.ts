import type { Msg, MsgHdrs } from '@nats-io/transport-node'
import { fromHeaders, rawFields } from './wire.js'

const ACK = Uint8Array.of(43, 65, 67, 75) // +ACK
const NAK = Uint8Array.of(45, 78, 65, 75) // -NAK
const WORKING = Uint8Array.of(43, 87, 80, 73) // +WPI

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
    // front: the 5th token in the 9-token form, the 7th in the longer one. Read without splitting
    // the subject into strings, once per delivery.
    const reply = msg.reply ?? ''
    const dots: number[] = []
    for (let i = reply.indexOf('.'); i !== -1 && dots.length < 10; i = reply.indexOf('.', i + 1)) dots.push(i)
    const first = dots.length === 8 ? 3 : 5
    const token = (n: number) => Number(reply.slice((dots[first + n] ?? -1) + 1, dots[first + n + 1] ?? reply.length))
    this.deliveryCount = token(0)
    this.seq = token(1)
    this.dseq = token(2)
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
