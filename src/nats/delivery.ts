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
    const tokens = msg.reply?.split('.') ?? []
    const at = tokens.length === 9 ? 4 : 6
    this.deliveryCount = Number(tokens[at])
    this.seq = Number(tokens[at + 1])
    this.dseq = Number(tokens[at + 2])
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
