import { expect, it } from 'vitest'
import type { ReceivedMessage } from '../../../src/index.js'
import { sleep, waitFor } from './helpers.js'
import type { MessagingContext } from './suite.js'

const KEYS = 8
const PER_KEY = 25
const MEMBERS = 4
const CONCURRENCY = 8

export function orderingSuite(t: MessagingContext) {
  it(`handles each partition key in publish order, never twice at once, keys in parallel (${MEMBERS} members × concurrency ${CONCURRENCY})`, async () => {
    const seen = new Map<string, number[]>()
    const running = new Set<string>()
    let overlaps = 0
    let inFlight = 0
    let maxInFlight = 0
    const handler = async (m: ReceivedMessage) => {
      const key = m.partitionKey as string
      if (running.has(key)) overlaps++
      running.add(key)
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      // A pause with a random length gives a wrong implementation every chance to reorder or overlap.
      await sleep(Math.floor(Math.random() * 4))
      seen.get(key)?.push((m.data as { seq: number }).seq) ?? seen.set(key, [(m.data as { seq: number }).seq])
      inFlight--
      running.delete(key)
    }
    const clients = [t.transport(), ...(await Promise.all(Array.from({ length: MEMBERS - 1 }, () => t.subject().connect())))]
    for (const client of clients) await client.subscribe({ group: 'ordered', concurrency: CONCURRENCY, handler })

    // Keys interleaved in each batch, and several batches: order must hold across both.
    for (let batch = 0; batch < 5; batch++) {
      const messages = []
      for (let i = 0; i < PER_KEY / 5; i++) {
        for (let k = 0; k < KEYS; k++) {
          messages.push({ type: 'Step', data: { seq: batch * (PER_KEY / 5) + i }, partitionKey: `key-${k}` })
        }
      }
      await t.transport().publish(messages)
    }
    const total = () => [...seen.values()].reduce((n, list) => n + list.length, 0)
    await waitFor('every message', () => total() === KEYS * PER_KEY)

    const expected = Array.from({ length: PER_KEY }, (_, i) => i)
    for (let k = 0; k < KEYS; k++) expect(seen.get(`key-${k}`), `key-${k}`).toEqual(expected)
    expect(overlaps).toBe(0)
    expect(maxInFlight).toBeGreaterThan(1)
  })
}

export function retryOrderSuite(t: MessagingContext) {
  it('a message waiting for its retry holds back its key exactly where the transport says it does', async () => {
    const seen: string[] = []
    await t.transport().subscribe({
      group: 'retry-order',
      // A delay long enough that the next message of the key, already waiting, is sure to be handled first where allowed.
      retry: { maxAttempts: 3, initialDelayMs: 500, maxDelayMs: 500, jitter: false },
      handler: (m) => {
        seen.push(`${m.data}#${m.attempt}`)
        if (m.data === 'first' && m.attempt === 1) throw new Error('once')
      },
    })
    await t.transport().publish([
      { type: 'Step', data: 'first', partitionKey: 'k' },
      { type: 'Step', data: 'second', partitionKey: 'k' },
    ])
    await waitFor('both, the first retried', () => seen.length === 3)
    const expected = t.transport().capabilities.retriesKeepKeyOrder
      ? ['first#1', 'first#2', 'second#1']
      : ['first#1', 'second#1', 'first#2']
    expect(seen).toEqual(expected)
  })
}

export function churnSuite(t: MessagingContext) {
  it('keeps each key in order and never twice at once while members join and leave mid-stream', async () => {
    const keys = 6
    const perKey = 40
    const seen = new Map<string, number[]>()
    const running = new Set<string>()
    let overlaps = 0
    const total = () => [...seen.values()].reduce((n, list) => n + list.length, 0)
    const handler = async (m: ReceivedMessage) => {
      const key = m.partitionKey as string
      if (running.has(key)) overlaps++
      running.add(key)
      await sleep(Math.floor(Math.random() * 3))
      const seq = (m.data as { seq: number }).seq
      seen.get(key)?.push(seq) ?? seen.set(key, [seq])
      running.delete(key)
    }
    const join = async () => (await t.subject().connect()).subscribe({ group: 'churn', concurrency: 4, handler })
    const first = await join()
    const publishing = (async () => {
      for (let seq = 0; seq < perKey; seq++) {
        await t
          .transport()
          .publish(Array.from({ length: keys }, (_, k) => ({ type: 'Step', data: { seq }, partitionKey: `key-${k}` })))
        await sleep(2)
      }
    })()
    // Members come and go while messages flow, each change once some progress has been made.
    await waitFor('some progress', () => total() >= 30)
    const second = await join()
    await waitFor('more progress', () => total() >= 80)
    await first.stop()
    const third = await join()
    await waitFor('further progress', () => total() >= 130)
    await second.stop()
    await publishing
    await waitFor('every message', () => total() >= keys * perKey)

    const expected = Array.from({ length: perKey }, (_, i) => i)
    for (let k = 0; k < keys; k++) expect(seen.get(`key-${k}`), `key-${k}`).toEqual(expected)
    expect(overlaps).toBe(0)
    await third.stop()
  })
}
