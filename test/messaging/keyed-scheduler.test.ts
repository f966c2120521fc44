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
