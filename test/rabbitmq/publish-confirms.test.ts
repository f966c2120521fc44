import { IllegalOperationError } from 'amqplib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isEventfoldError } from '../../src/index.js'
import { type ConfirmPublisher, type Outgoing, publishBatch } from '../../src/rabbitmq/confirms.js'
import type { ReconnectingConnection } from '../../src/rabbitmq/connection.js'
import { Names } from '../../src/rabbitmq/names.js'
import { Publisher } from '../../src/rabbitmq/publisher.js'

type Callback = (error: unknown) => void

/**
 * A confirm channel that answers as amqplib does: one callback per publish, `null` on the broker's
 * ack, Error('message nacked') on its nack, Error('channel closed') for every message still
 * unanswered when the channel closes, and publish throwing IllegalOperationError once it is closing.
 */
class FakeChannel implements ConfirmPublisher {
  published: { id: string; answer: Callback }[] = []
  closing = false
  #onClose: (() => void)[] = []

  publish(_exchange: string, _routingKey: string, _content: Buffer, options: { messageId?: string }, callback: Callback) {
    if (this.closing) throw new IllegalOperationError('Channel closing', '')
    this.published.push({ id: options.messageId as string, answer: callback })
    return true
  }

  ack(id: string) {
    this.#answer(id, null)
  }

  nack(id: string) {
    this.#answer(id, new Error('message nacked'))
  }

  /** The broker closes the channel: what it did not confirm is answered 'channel closed'. */
  close() {
    this.closing = true
    for (const p of this.published.splice(0)) p.answer(new Error('channel closed'))
    for (const listener of this.#onClose) listener()
  }

  on(event: string, listener: () => void) {
    if (event === 'close') this.#onClose.push(listener)
  }

  async assertExchange() {}

  #answer(id: string, error: Error | null) {
    const at = this.published.findIndex((p) => p.id === id)
    const [p] = this.published.splice(at, 1)
    p?.answer(error)
  }
}

const outgoing = (n: number): Outgoing[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `m${i}`,
    exchange: 'x',
    routingKey: 'k',
    content: Buffer.alloc(0),
    options: { messageId: `m${i}` },
  }))

/** How a promise ended, without awaiting it: `pending` until it settles. */
function track<T>(promise: Promise<T>) {
  const state: { status: 'pending' | 'resolved' | 'rejected'; value?: T; error?: unknown; settlements: number } = {
    status: 'pending',
    settlements: 0,
  }
  promise.then(
    (value) => Object.assign(state, { status: 'resolved', value, settlements: state.settlements + 1 }),
    (error) => Object.assign(state, { status: 'rejected', error, settlements: state.settlements + 1 }),
  )
  return state
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

function publisherOver(channels: FakeChannel[], timeoutMs = 5_000) {
  const opened: FakeChannel[] = []
  const connection = {
    closed: false,
    async channel() {
      const next = channels[opened.length]
      if (next === undefined) throw new Error('no more channels')
      opened.push(next)
      return next
    },
  } as unknown as ReconnectingConnection
  return { publisher: new Publisher(connection, new Names('p', 1), timeoutMs), opened }
}

describe('publishBatch', () => {
  type Fate = 'ack' | 'nack' | 'lost' | 'throws'

  it('answers only once every message has its own answer: confirmed, to send again, or refused', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 30 }).chain((n) =>
          fc.tuple(
            fc.array(fc.constantFrom<Fate>('ack', 'ack', 'ack', 'nack', 'lost', 'throws'), { minLength: n, maxLength: n }),
            fc.shuffledSubarray(
              Array.from({ length: n }, (_, i) => i),
              { minLength: n, maxLength: n },
            ),
            fc.array(fc.boolean(), { minLength: n, maxLength: n }),
          ),
        ),
        async ([fates, order, answerTwice]) => {
          const callbacks: Callback[] = []
          const channel: ConfirmPublisher = {
            publish(_x, _k, _c, options, callback) {
              const i = Number((options.messageId as string).slice(1))
              if (fates[i] === 'throws') throw new IllegalOperationError('Channel closed', '')
              callbacks[i] = callback
              return true
            },
          }
          const batch = outgoing(fates.length)
          const result = track(publishBatch(channel, batch))
          const answered = order.filter((i) => fates[i] !== 'throws')
          for (const [k, i] of answered.entries()) {
            await turn()
            // Not before the last answer: a message still in flight must not be given up or resent.
            expect(result.status).toBe('pending')
            const fate = fates[i]
            const error = fate === 'ack' ? null : new Error(fate === 'nack' ? 'message nacked' : 'channel closed')
            callbacks[i]?.(error)
            // A second answer (with another verdict) must not count for another message.
            if (answerTwice[k]) callbacks[i]?.(fate === 'ack' ? new Error('channel closed') : null)
          }
          await turn()
          expect(result.settlements).toBe(1)
          const firstNack = fates.indexOf('nack')
          if (firstNack >= 0) {
            expect(result.status).toBe('rejected')
            expect(isEventfoldError(result.error, 'PUBLISH_NOT_CONFIRMED')).toBe(true)
            expect((result.error as { messageId: string }).messageId).toBe(`m${firstNack}`)
          } else {
            expect(result.status).toBe('resolved')
            const resend = batch.filter((_, i) => fates[i] === 'lost' || fates[i] === 'throws').map((m) => m.id)
            expect(result.value?.map((m) => m.id)).toEqual(resend)
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('refuses a message the client cannot send at all, instead of sending it again forever', async () => {
    const channel: ConfirmPublisher = {
      publish() {
        throw new RangeError('Encoded field table (headers or arguments) exceeds the 131072 byte encoding buffer')
      },
    }
    await expect(publishBatch(channel, outgoing(2))).rejects.toMatchObject({ code: 'PUBLISH_NOT_CONFIRMED', messageId: 'm0' })
  })
})

describe('Publisher.send', () => {
  it('sends again, on the next channel, exactly the messages a closing channel did not confirm', async () => {
    const first = new FakeChannel()
    const second = new FakeChannel()
    const { publisher } = publisherOver([first, second])
    const sent = track(publisher.send(outgoing(10)))
    await turn()
    expect(first.published).toHaveLength(10)
    for (const id of ['m0', 'm3', 'm4']) first.ack(id)
    first.close()
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(sent.status).toBe('pending')
    expect(second.published.map((p) => p.id)).toEqual(['m1', 'm2', 'm5', 'm6', 'm7', 'm8', 'm9'])
    for (const id of second.published.map((p) => p.id)) second.ack(id)
    await turn()
    expect(sent.status).toBe('resolved')
  })

  it('rejects with PUBLISH_NOT_CONFIRMED for a nack, once the rest of the batch is answered, and sends nothing again', async () => {
    const first = new FakeChannel()
    const second = new FakeChannel()
    const { publisher, opened } = publisherOver([first, second])
    const sent = track(publisher.send(outgoing(3)))
    await turn()
    first.nack('m1')
    await turn()
    expect(sent.status).toBe('pending')
    first.ack('m0')
    first.ack('m2')
    await turn()
    expect(sent.status).toBe('rejected')
    expect(sent.error).toMatchObject({ code: 'PUBLISH_NOT_CONFIRMED', messageId: 'm1' })
    expect(opened).toEqual([first])
  })

  it('gives up with TRANSPORT_UNAVAILABLE on a channel that never finishes closing, without starving the event loop', async () => {
    const stuck = new FakeChannel()
    const { publisher } = publisherOver([stuck], 200)
    const sent = track(publisher.send(outgoing(1)))
    await turn()
    // Closing (publish throws) but its 'close' event never comes.
    stuck.closing = true
    for (const p of stuck.published.splice(0)) p.answer(new Error('channel closed'))
    // A timer due long before the publish timeout runs while the publish still tries.
    let whileTrying: string | undefined
    setTimeout(() => {
      whileTrying = sent.status
    }, 20)
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(whileTrying).toBe('pending')
    expect(sent.status).toBe('rejected')
    expect(sent.error).toMatchObject({ code: 'TRANSPORT_UNAVAILABLE' })
  })
})
