import { expect, it } from 'vitest'
import { isEventfoldError, type ReceivedMessage, uuidv7 } from '../../../src/index.js'
import { waitFor } from './helpers.js'
import type { MessagingContext } from './suite.js'

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

export function deliverySuite(t: MessagingContext) {
  it('delivers a message with every envelope attribute intact', async () => {
    const got: ReceivedMessage[] = []
    await t.transport().subscribe({ group: 'billing', handler: (m) => void got.push(m) })
    const id = uuidv7()
    const time = new Date('2026-01-02T03:04:05.678Z')
    const outgoing = {
      id,
      type: 'OrderPlaced',
      data: { orderId: 'o-1', lines: [{ sku: 'a', qty: 2 }], note: 'ünïcødé' },
      partitionKey: 'o-1',
      correlationId: 'corr-1',
      causationId: 'cause-1',
      subject: 'orders/o-1',
      time,
      dataSchemaVersion: 3,
      traceparent: TRACE,
    }
    const { ids } = await t.transport().publish([outgoing])
    expect(ids).toEqual([id])
    await waitFor('the message', () => got.length === 1)
    const { time: _, ...rest } = outgoing
    expect(got[0]).toMatchObject({ ...rest, source: 'eventfold', attempt: 1, group: 'billing' })
    expect(got[0]?.time?.toISOString()).toBe(time.toISOString())
  })

  it('gives a message without ids its own: a new UUIDv7, and it starts its own conversation', async () => {
    const got: ReceivedMessage[] = []
    await t.transport().subscribe({ group: 'g', handler: (m) => void got.push(m) })
    const { ids } = await t.transport().publish([
      { type: 'A', data: 1 },
      { type: 'A', data: 2 },
    ])
    expect(ids).toHaveLength(2)
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/)
    await waitFor('both messages', () => got.length === 2)
    for (const message of got) {
      expect(ids).toContain(message.id)
      expect(message.correlationId).toBe(message.id)
      expect(message.causationId).toBe(message.id)
    }
    expect(got.map((m) => m.data).sort()).toEqual([1, 2])
  })

  it('a message published while handling another continues its conversation without being told', async () => {
    const transport = t.transport()
    const other = await t.subject().connect()
    await transport.subscribe({
      group: 'payments',
      types: ['OrderPlaced'],
      handler: async (m) => {
        // Nothing about the incoming message is passed along: the context carries it.
        await transport.publish([{ type: 'PaymentRequested', data: { for: m.id } }])
      },
    })
    const followUps: ReceivedMessage[] = []
    await other.subscribe({ group: 'shipping', types: ['PaymentRequested'], handler: (m) => void followUps.push(m) })
    const { ids } = await other.publish([{ type: 'OrderPlaced', data: {}, correlationId: 'conv-9', traceparent: TRACE }])
    await waitFor('the follow-up', () => followUps.length === 1)
    expect(followUps[0]).toMatchObject({
      type: 'PaymentRequested',
      data: { for: ids[0] },
      correlationId: 'conv-9',
      causationId: ids[0],
      traceparent: TRACE,
    })
  })

  it('a synchronous handler that publishes later, not awaited, still continues the conversation', async () => {
    const transport = t.transport()
    const other = await t.subject().connect()
    // Returns nothing, so the consumer settles the delivery at once; the publish runs on a timer
    // after that and finds the context only because the handler ran inside it.
    await transport.subscribe({
      group: 'fire-and-forget',
      types: ['OrderPlaced'],
      handler: (m) => {
        setTimeout(() => void transport.publish([{ type: 'Audit', data: { for: m.id } }]), 5)
      },
    })
    const audits: ReceivedMessage[] = []
    await other.subscribe({ group: 'audit', types: ['Audit'], handler: (m) => void audits.push(m) })
    const { ids } = await other.publish([{ type: 'OrderPlaced', data: {}, correlationId: 'conv-3' }])
    await waitFor('the audit', () => audits.length === 1)
    expect(audits[0]).toMatchObject({ type: 'Audit', data: { for: ids[0] }, correlationId: 'conv-3', causationId: ids[0] })
  })

  it('delivers to a group only the types it asked for', async () => {
    const got: string[] = []
    await t.transport().subscribe({ group: 'only-b', types: ['B', 'C'], handler: (m) => void got.push(m.type) })
    const all: string[] = []
    await t.transport().subscribe({ group: 'all', handler: (m) => void all.push(m.type) })
    await t.transport().publish(['A', 'B', 'A', 'C'].map((type) => ({ type, data: null })))
    await waitFor('every message in the catch-all group', () => all.length === 4)
    await waitFor('B and C', () => got.length === 2)
    expect(got.sort()).toEqual(['B', 'C'])
  })

  it('rejects a malformed message before publishing anything of the batch', async () => {
    const got: unknown[] = []
    await t.transport().subscribe({ group: 'g', handler: (m) => void got.push(m) })
    const error = await t
      .transport()
      .publish([
        { type: 'Fine', data: 1, partitionKey: 'k' },
        { type: '', data: 2, partitionKey: 'k' },
      ])
      .catch((e: unknown) => e)
    expect(isEventfoldError(error, 'INVALID_ARGUMENT')).toBe(true)
    expect((error as { field: string }).field).toBe('messages[1].type')
    // A marker of the same key published after: the rejected batch would have arrived before it.
    await t.transport().publish([{ type: 'Marker', data: 0, partitionKey: 'k' }])
    await waitFor('the marker', () => got.length >= 1)
    expect(got).toHaveLength(1)
    expect(got[0]).toMatchObject({ type: 'Marker' })
  })

  it('refuses a bad subscription with a typed error', async () => {
    const bad = [
      { group: 'has space', handler: () => {} },
      { group: 'g', handler: () => {}, concurrency: 0 },
      { group: 'g', handler: () => {}, retry: { maxAttempts: 0 } },
      { group: 'g', handler: () => {}, types: [] },
    ]
    for (const options of bad) {
      const error = await t
        .transport()
        .subscribe(options)
        .catch((e: unknown) => e)
      expect(isEventfoldError(error, 'INVALID_ARGUMENT'), JSON.stringify(options)).toBe(true)
    }
  })

  it('refuses to publish once closed', async () => {
    await t.transport().close()
    const error = await t
      .transport()
      .publish([{ type: 'A', data: 1 }])
      .catch((e: unknown) => e)
    expect(isEventfoldError(error, 'TRANSPORT_CLOSED')).toBe(true)
  })
}
