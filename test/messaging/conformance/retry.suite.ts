import { expect, it } from 'vitest'
import { isEventfoldError } from '../../../src/index.js'
import { waitFor } from './helpers.js'
import type { MessagingContext } from './suite.js'

class Boom extends Error {
  readonly code = 'BOOM'
}

export function retrySuite(t: MessagingContext) {
  it('retries with exponential backoff, then dead-letters with the error, the attempts and the origin', async () => {
    const attempts: { attempt: number; at: number }[] = []
    await t.transport().subscribe({
      group: 'flaky',
      retry: { maxAttempts: 3, initialDelayMs: 60, maxDelayMs: 120, jitter: false },
      handler: (m) => {
        attempts.push({ attempt: m.attempt, at: performance.now() })
        throw new Boom(`failed on attempt ${m.attempt}`)
      },
    })
    const { ids } = await t.transport().publish([{ type: 'Charge', data: { amount: 5 }, partitionKey: 'acct-1' }])
    await waitFor('a dead letter', async () => (await t.transport().deadLetters.list('flaky')).length === 1)

    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3])
    // Lower bounds only: a loaded machine makes the waits longer, never shorter (1 ms of timer rounding allowed).
    const [first, second, third] = attempts.map((a) => a.at) as [number, number, number]
    expect(second - first).toBeGreaterThanOrEqual(59)
    expect(third - second).toBeGreaterThanOrEqual(119)
    const [letter] = await t.transport().deadLetters.list('flaky')
    expect(letter).toMatchObject({
      id: ids[0],
      group: 'flaky',
      attempts: 3,
      error: { message: 'failed on attempt 3', code: 'BOOM', name: 'Error' },
      message: { id: ids[0], type: 'Charge', data: { amount: 5 }, partitionKey: 'acct-1' },
    })
    expect(letter?.origin).toContain('flaky')
    expect(letter?.deadLetteredAt).toBeInstanceOf(Date)
  })

  it('a handler that fails, then succeeds, leaves no dead letter', async () => {
    const attempts: number[] = []
    await t.transport().subscribe({
      group: 'recovers',
      retry: { maxAttempts: 5, initialDelayMs: 5, maxDelayMs: 20, jitter: true },
      handler: (m) => {
        attempts.push(m.attempt)
        if (m.type === 'Charge' && m.attempt < 3) throw new Error('not yet')
      },
    })
    await t.transport().publish([{ type: 'Charge', data: 1 }])
    await waitFor('the third attempt', () => attempts.length === 3)
    // A marker through the same group proves the group moved on; no fourth attempt came.
    await t.transport().publish([{ type: 'Marker', data: 2 }])
    await waitFor('the marker', () => attempts.length === 4)
    expect(attempts).toEqual([1, 2, 3, 1])
    expect(await t.transport().deadLetters.list('recovers')).toEqual([])
  })

  it('sends an undecodable message straight to the dead letters, never to the handler', async () => {
    const handled: unknown[] = []
    await t.transport().subscribe({ group: 'strict', retry: { maxAttempts: 5 }, handler: (m) => void handled.push(m) })
    await t.subject().publishUndecodable('Charge')
    await waitFor('a dead letter', async () => (await t.transport().deadLetters.list('strict')).length === 1)
    const [letter] = await t.transport().deadLetters.list('strict')
    expect(letter?.error.code).toBe('UNDECODABLE_MESSAGE')
    expect(letter?.attempts).toBe(1)
    expect(letter?.message).toBeUndefined()
    expect(letter?.raw?.body).toBe('{not json')
    expect(letter?.origin).toContain('strict')
    expect(handled).toEqual([])
  })

  it('lists, replays and discards dead letters', async () => {
    let failing = true
    const handled: string[] = []
    await t.transport().subscribe({
      group: 'dlq',
      retry: { maxAttempts: 1 },
      handler: (m) => {
        if (failing) throw new Error('down')
        handled.push(m.id)
      },
    })
    const bystander: string[] = []
    await t.transport().subscribe({ group: 'bystander', handler: (m) => void bystander.push(m.id) })
    // One key throughout: in each group, everything below arrives in this order.
    const { ids } = await t.transport().publish([
      { type: 'Job', data: 1, partitionKey: 'k' },
      { type: 'Job', data: 2, partitionKey: 'k' },
    ])
    const dlq = t.transport().deadLetters
    await waitFor('two dead letters', async () => (await dlq.list('dlq')).length === 2)
    expect((await dlq.list('dlq')).map((l) => l.id).sort()).toEqual([...ids].sort())
    expect(await dlq.list('dlq', { limit: 1 })).toHaveLength(1)
    expect(await dlq.list('other-group')).toEqual([])

    const [replayed, dropped] = ids as [string, string]
    // Replayed while the handler still fails: it is dead-lettered again, not lost or taken for a duplicate.
    await dlq.replay('dlq', [replayed])
    await waitFor('the replay to fail again', async () => {
      const letters = await dlq.list('dlq')
      return letters.length === 2 && letters.some((l) => l.id === replayed && l.attempts === 1)
    })

    failing = false
    await dlq.replay('dlq', [replayed])
    await waitFor('the replayed message', () => handled.length === 1)
    expect(handled).toEqual([replayed])
    expect((await dlq.list('dlq')).map((l) => l.id)).toEqual([dropped])

    await dlq.discard('dlq', [dropped])
    expect(await dlq.list('dlq')).toEqual([])
    // Replays went to the failing group only: another group saw each message once, then the marker.
    const { ids: marker } = await t.transport().publish([{ type: 'Marker', data: 0, partitionKey: 'k' }])
    await waitFor('the marker in the other group', () => bystander.includes(marker[0] as string))
    expect(bystander).toEqual([...ids, ...marker])
    const error = await dlq.discard('dlq', [dropped]).catch((e: unknown) => e)
    expect(isEventfoldError(error, 'DEAD_LETTER_NOT_FOUND')).toBe(true)
  })
}
