import type { ConsumeMessage } from 'amqplib'
import fc from 'fast-check'
import { expect, it } from 'vitest'
import type { ReconnectingConnection } from '../../src/rabbitmq/connection.js'
import { ShardLease } from '../../src/rabbitmq/lease.js'
import { Names } from '../../src/rabbitmq/names.js'

/**
 * A channel that settles as RabbitMQ does: `multiple` settles every outstanding tag up to the one
 * named, and naming a tag that is not outstanding is a channel error (PRECONDITION_FAILED).
 */
class BrokerChannel {
  outstanding = new Set<number>()
  acked = new Set<number>()
  requeued = new Set<number>()
  /** What the consumer finished with: settling anything else would lose or requeue a message too early. */
  finished = new Set<number>()
  frames = 0
  errors: string[] = []
  deliver: (message: ConsumeMessage) => void = () => {}

  async consume(queue: string, onMessage: (message: ConsumeMessage) => void) {
    if (!queue.endsWith('.lock')) this.deliver = onMessage
    return { consumerTag: queue }
  }
  async prefetch() {}
  on() {}
  async close() {}

  ack(message: ConsumeMessage, multiple = false) {
    this.#settle(message.fields.deliveryTag, multiple, this.acked)
  }

  nack(message: ConsumeMessage, multiple = false) {
    this.#settle(message.fields.deliveryTag, multiple, this.requeued)
  }

  #settle(tag: number, multiple: boolean, into: Set<number>) {
    this.frames++
    if (!this.outstanding.has(tag)) this.errors.push(`unknown delivery tag ${tag}`)
    const tags = multiple ? [...this.outstanding].filter((t) => t <= tag) : [tag]
    for (const t of tags) {
      if (!this.finished.has(t)) this.errors.push(`settled ${t} before its handler finished`)
      this.outstanding.delete(t)
      into.add(t)
    }
  }
}

const message = (deliveryTag: number) => ({ fields: { deliveryTag }, content: Buffer.alloc(0), properties: {} }) as ConsumeMessage
const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

async function lease(channel: BrokerChannel) {
  const connection = { channel: async () => channel } as unknown as ReconnectingConnection
  const spec = { connection, names: new Names('p', 1), group: 'g', shard: 0, prefetch: 64, onMessage: () => {} }
  const claimed = await ShardLease.claim(spec)
  if (claimed === undefined) throw new Error('not claimed')
  return claimed
}

it('settles every delivery exactly once, whatever order handlers finish in and however turns batch them', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 40 }).chain((n) =>
        fc.tuple(
          fc.shuffledSubarray(
            Array.from({ length: n }, (_, i) => i + 1),
            { minLength: n, maxLength: n },
          ),
          fc.array(fc.boolean(), { minLength: n, maxLength: n }),
          fc.array(fc.boolean(), { minLength: n, maxLength: n }),
        ),
      ),
      async ([order, turnAfter, requeue]) => {
        const channel = new BrokerChannel()
        const held = await lease(channel)
        for (let tag = 1; tag <= order.length; tag++) {
          channel.outstanding.add(tag)
          channel.deliver(message(tag))
        }
        for (const [i, tag] of order.entries()) {
          channel.finished.add(tag)
          if (requeue[i]) held.requeue(message(tag))
          else held.ack(message(tag))
          if (turnAfter[i]) await nextTurn()
        }
        await nextTurn()
        expect(channel.errors).toEqual([])
        expect(channel.outstanding.size).toBe(0)
        const expectedRequeued = order.filter((_, i) => requeue[i]).sort((a, b) => a - b)
        expect([...channel.requeued].sort((a, b) => a - b)).toEqual(expectedRequeued)
        expect(channel.acked.size + channel.requeued.size).toBe(order.length)
      },
    ),
    { numRuns: 300 },
  )
})

it('acknowledges a run of deliveries done in one turn with one frame', async () => {
  const channel = new BrokerChannel()
  const held = await lease(channel)
  for (let tag = 1; tag <= 50; tag++) {
    channel.outstanding.add(tag)
    channel.deliver(message(tag))
  }
  for (let tag = 50; tag >= 1; tag--) {
    channel.finished.add(tag)
    held.ack(message(tag))
  }
  await nextTurn()
  expect(channel.acked.size).toBe(50)
  expect(channel.frames).toBe(1)
})

it('does not hold back deliveries done behind one still running', async () => {
  const channel = new BrokerChannel()
  const held = await lease(channel)
  for (let tag = 1; tag <= 3; tag++) {
    channel.outstanding.add(tag)
    channel.deliver(message(tag))
  }
  for (const tag of [2, 3]) {
    channel.finished.add(tag)
    held.ack(message(tag))
  }
  await nextTurn()
  expect([...channel.outstanding]).toEqual([1])
  channel.finished.add(1)
  held.ack(message(1))
  await nextTurn()
  expect(channel.outstanding.size).toBe(0)
  expect(channel.errors).toEqual([])
})

it('sends acknowledgements still waiting for their turn before it closes the channel', async () => {
  const channel = new BrokerChannel()
  const held = await lease(channel)
  channel.outstanding.add(1)
  channel.deliver(message(1))
  channel.finished.add(1)
  held.ack(message(1))
  await held.close()
  expect(channel.acked).toEqual(new Set([1]))
})
