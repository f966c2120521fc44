import fc from 'fast-check'
import { expect, it } from 'vitest'
import { KeyedScheduler } from '../../src/messaging/keyed-scheduler.js'
import { type Deferred, deferred, waitFor } from './conformance/helpers.js'

it('runs one item per key at a time, in push order, while other keys and keyless items overtake', async () => {
  const gates = new Map<string, Deferred>()
  const started: string[] = []
  const scheduler = new KeyedScheduler<string>(3, async (item) => {
    started.push(item)
    const gate = deferred()
    gates.set(item, gate)
    await gate.promise
  })
  for (const [key, item] of [
    ['a', 'a1'],
    ['a', 'a2'],
    ['b', 'b1'],
    [undefined, 'x1'],
    ['b', 'b2'],
  ] as const) {
    scheduler.push(key, item)
  }
  await waitFor('three to start', () => started.length === 3)
  expect(started).toEqual(['a1', 'b1', 'x1'])
  expect(scheduler.drop((item) => item === 'b2')).toEqual(['b2'])
  gates.get('a1')?.resolve()
  await waitFor('a2', () => started.length === 4)
  expect(started[3]).toBe('a2')
  for (const item of ['a2', 'b1', 'x1']) gates.get(item)?.resolve()
  await scheduler.settled()
  expect(started).toEqual(['a1', 'b1', 'x1', 'a2'])
})

it('keeps its promises for any mix of keys, run lengths and drops (property)', async () => {
  const job = fc.record({ key: fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: undefined }), ticks: fc.nat(3) })
  await fc.assert(
    fc.asyncProperty(
      fc.array(job, { maxLength: 40 }),
      fc.integer({ min: 1, max: 4 }),
      fc.nat(40),
      async (jobs, concurrency, dropAt) => {
        const started: number[] = []
        const running = new Set<string>()
        let inFlight = 0
        let violations = 0
        // No ticks: the item finishes before `run` returns, with no promise, as a synchronous handler's does.
        const scheduler = new KeyedScheduler<number>(concurrency, (i) => {
          const { key, ticks } = jobs[i] as (typeof jobs)[number]
          if (key !== undefined && running.has(key)) violations++
          if (++inFlight > concurrency) violations++
          started.push(i)
          if (ticks === 0) {
            inFlight--
            return undefined
          }
          if (key !== undefined) running.add(key)
          return (async () => {
            for (let t = 0; t < ticks; t++) await Promise.resolve()
            if (key !== undefined) running.delete(key)
            inFlight--
          })()
        })
        let dropped: number[] = []
        for (const [i, { key }] of jobs.entries()) {
          scheduler.push(key, i)
          // Drops every queued item of key 'a' once, midway.
          if (i === dropAt) dropped = scheduler.drop((n) => jobs[n]?.key === 'a')
        }
        await waitFor('the scheduler to settle', async () => {
          await scheduler.settled()
          return started.length + dropped.length === jobs.length
        })
        expect(violations).toBe(0)
        expect([...started, ...dropped].sort((x, y) => x - y)).toEqual(jobs.map((_, i) => i))
        for (const key of ['a', 'b', 'c', 'd']) {
          const order = started.filter((i) => jobs[i]?.key === key)
          expect(order).toEqual([...order].sort((x, y) => x - y))
        }
      },
    ),
    { numRuns: 200 },
  )
})

it('an item finishing inside run that drops and pushes meanwhile keeps its key one at a time, in order', async () => {
  const gates = new Map<string, Deferred>()
  const started: string[] = []
  const scheduler: KeyedScheduler<string> = new KeyedScheduler<string>(2, (item) => {
    started.push(item)
    if (item === 'a1') {
      // As a member giving back a shard while settling a message: a1 has not returned yet.
      expect(scheduler.drop((i) => i === 'x1')).toEqual(['x1'])
      scheduler.push('a', 'a4')
      expect(started).toEqual(['z1', 'y1', 'a1'])
      return undefined
    }
    const gate = deferred()
    gates.set(item, gate)
    return gate.promise
  })
  scheduler.push(undefined, 'z1')
  scheduler.push(undefined, 'y1')
  for (const item of ['a1', 'a2', 'a3']) scheduler.push('a', item)
  scheduler.push(undefined, 'x1')
  gates.get('z1')?.resolve()
  await waitFor('a2', () => started.includes('a2'))
  gates.get('y1')?.resolve()
  await new Promise((resolve) => setTimeout(resolve, 20))
  // a3 waits for a2 even with a slot free.
  expect(started).toEqual(['z1', 'y1', 'a1', 'a2'])
  gates.get('a2')?.resolve()
  await waitFor('a3', () => started.includes('a3'))
  gates.get('a3')?.resolve()
  await waitFor('a4', () => started.includes('a4'))
  gates.get('a4')?.resolve()
  await scheduler.settled()
  expect(started).toEqual(['z1', 'y1', 'a1', 'a2', 'a3', 'a4'])
})
