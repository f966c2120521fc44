import { encodeBinary, type IncomingBinaryMessage } from '../binary-mode.js'
import { createMessage, type OutgoingMessage } from '../envelope.js'
import { TransportClosedError } from '../errors.js'
import { resolveSubscription } from '../retry.js'
import type { Consumer, PublishResult, SubscribeOptions, Transport, TransportCapabilities, TransportOptions } from '../types.js'
import { MemoryDeadLetters } from './dead-letters.js'
import { type Member, MemoryGroup } from './group.js'

/**
 * Messages held in this process's memory: for tests and single-process apps. Messages travel
 * encoded (binary-mode CloudEvents) so decoding, poison messages and replays behave as on a broker.
 */
export class InMemoryTransport implements Transport {
  readonly capabilities: TransportCapabilities = {
    supportsOrderingKey: true,
    supportsDelayedDelivery: false,
    supportsNativeDeadLettering: false,
    // Nothing outlives the process: a crash loses every message not yet handled.
    survivesConsumerCrash: false,
    retriesKeepKeyOrder: true,
  }
  readonly deadLetters = new MemoryDeadLetters((group, wire) => this.#groups.get(group)?.enqueue(wire, keyOf(wire)))
  #groups = new Map<string, MemoryGroup>()
  #members = new Set<Member>()
  #closed = false
  readonly #source: string

  constructor(options: TransportOptions = {}) {
    this.#source = options.source ?? 'eventfold'
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<PublishResult> {
    this.#checkOpen()
    const created = messages.map((m, i) => createMessage(m, this.#source, i))
    for (const message of created) {
      const { headers, contentType, body } = encodeBinary(message, 'kafka')
      this.#route(message.type, { headers, contentType, body }, message.partitionKey)
    }
    return { ids: created.map((m) => m.id) }
  }

  /**
   * Puts bytes on the transport as if another producer had sent them (binary-mode headers plus
   * body); they are decoded on delivery. For tests of undecodable messages and for bridges.
   */
  async publishRaw(wire: IncomingBinaryMessage & { type: string; partitionKey?: string }): Promise<void> {
    this.#checkOpen()
    this.#route(wire.type, wire, wire.partitionKey)
  }

  async subscribe(options: SubscribeOptions): Promise<Consumer> {
    this.#checkOpen()
    const subscription = resolveSubscription(options)
    const group = this.#groups.get(subscription.group) ?? new MemoryGroup(subscription.group, this.deadLetters)
    this.#groups.set(group.name, group)
    group.widen(subscription.types)
    const member = group.join(subscription)
    this.#members.add(member)
    return member
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#members].map((m) => m.stop()))
    for (const group of this.#groups.values()) group.stopTimers()
  }

  #route(type: string, wire: IncomingBinaryMessage, key: string | undefined): void {
    for (const group of this.#groups.values()) if (group.accepts(type)) group.enqueue(wire, key)
  }

  #checkOpen(): void {
    if (this.#closed) throw new TransportClosedError()
  }
}

function keyOf(wire: IncomingBinaryMessage): string | undefined {
  const key = wire.headers.ce_partitionkey
  return typeof key === 'string' ? key : undefined
}

/**
 * @example
 * const transport = createInMemoryTransport()
 * await transport.subscribe({ group: 'billing', handler: async (message) => bill(message.data) })
 * await transport.publish([{ type: 'OrderPlaced', data: { orderId: 'o-1' }, partitionKey: 'o-1' }])
 */
export function createInMemoryTransport(options?: TransportOptions): InMemoryTransport {
  return new InMemoryTransport(options)
}
