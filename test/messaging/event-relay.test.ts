import { afterEach, describe, expect, it } from 'vitest'
import {
  createEventRelay,
  createInMemoryEventStore,
  createInMemoryTransport,
  type OutgoingMessage,
  type Processor,
  type ReceivedMessage,
} from '../../src/index.js'
import { collect } from '../conformance/helpers.js'
import { waitFor } from './conformance/helpers.js'

const running: { stop(): Promise<void> }[] = []
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop()
})

async function setup() {
  const store = createInMemoryEventStore()
  const transport = createInMemoryTransport()
  running.push({ stop: () => transport.close() }, { stop: () => store.close() })
  const received: ReceivedMessage[] = []
  await transport.subscribe({ group: 'downstream', handler: (m) => void received.push(m), concurrency: 4 })
  return { store, transport, received }
}

const start = async (relay: Processor) => {
  running.push(relay)
  await relay.start()
  return relay
}

describe('event relay (the event-sourced outbox)', () => {
  it('publishes chosen events with ids taken from the events, keyed by stream, in the conversation of the event', async () => {
    const { store, transport, received } = await setup()
    const { position } = await store.appendToStream('order-1', [
      { type: 'OrderPlaced', data: { total: 5 }, metadata: { correlationId: 'conv-9' } },
      { type: 'Internal', data: {} },
    ])
    const relay = await start(createEventRelay({ store, transport, name: 'orders', filter: { eventTypes: ['OrderPlaced'] } }))
    await relay.waitFor(position)
    await waitFor('the message', () => received.length === 1)
    const [event] = await collect(store.readStream('order-1'))
    expect(received[0]).toMatchObject({
      id: event?.id,
      type: 'OrderPlaced',
      data: { total: 5 },
      partitionKey: 'order-1',
      subject: 'order-1',
      correlationId: 'conv-9',
      causationId: event?.id,
    })
  })

  it('maps an event to several messages with stable derived ids, or to none', async () => {
    const { store, transport, received } = await setup()
    const map = (e: { type: string; data: unknown }): OutgoingMessage[] | undefined =>
      e.type === 'Split'
        ? [
            { type: 'PartA', data: e.data as never },
            { type: 'PartB', data: e.data as never },
          ]
        : undefined
    const { position } = await store.appendToStream('s', [
      { type: 'Split', data: { n: 1 } },
      { type: 'Quiet', data: {} },
    ])
    const relay = await start(createEventRelay({ store, transport, name: 'split', map }))
    await relay.waitFor(position)
    await waitFor('two messages', () => received.length === 2)
    expect(received.map((m) => m.type).sort()).toEqual(['PartA', 'PartB'])
    expect(new Set(received.map((m) => m.id)).size).toBe(2)
    // Published again (a new relay from the start, as after a lost checkpoint): the same ids.
    const again = await start(createEventRelay({ store, transport, name: 'split-again', map }))
    await again.waitFor(position)
    await waitFor('the copies', () => received.length === 4)
    expect(new Set(received.map((m) => m.id)).size).toBe(2)
  })

  it('retries a failed publish and keeps each stream in order; a restart resumes from the checkpoint', async () => {
    const { store, transport, received } = await setup()
    let failures = 2
    const publish = transport.publish.bind(transport)
    const flaky = Object.assign(Object.create(transport), {
      publish: async (messages: readonly OutgoingMessage[]) => {
        if (failures-- > 0) throw new Error('broker down')
        return publish(messages)
      },
    })
    for (let i = 0; i < 5; i++) await store.appendToStream(`acc-${i % 2}`, [{ type: 'Moved', data: { i } }])
    const options = { store, transport: flaky, name: 'flaky', retry: { initialDelayMs: 1, maxDelayMs: 5 } }
    const relay = await start(createEventRelay(options))
    await waitFor('five messages', () => received.length === 5)
    await relay.stop()
    for (const stream of ['acc-0', 'acc-1']) {
      const order = received.filter((m) => m.partitionKey === stream).map((m) => (m.data as { i: number }).i)
      expect(order).toEqual([...order].sort((a, b) => a - b))
    }
    const { position } = await store.appendToStream('acc-0', [{ type: 'Moved', data: { i: 5 } }])
    const resumed = await start(createEventRelay(options))
    await resumed.waitFor(position)
    await waitFor('the sixth', () => received.length === 6)
    expect(received.at(-1)?.data).toEqual({ i: 5 })
  })
})
