import { expect } from 'vitest'
import type { EventData, RecordedEvent } from '../../src/index.js'

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

export const events = (count: number, type = 'Happened', from = 0): EventData[] =>
  Array.from({ length: count }, (_, i) => ({ type, data: { n: from + i } }))

/** The error a promise rejects with; fails the test if it resolves. */
export async function failure(promise: Promise<unknown> | (() => unknown)): Promise<Record<string, unknown>> {
  try {
    await (typeof promise === 'function' ? promise() : promise)
  } catch (error) {
    return error as Record<string, unknown>
  }
  expect.unreachable('expected a rejection')
  return {}
}

/** Positions strictly increase and each stream's revisions run without gaps, in order. */
export function expectWellOrdered(delivered: RecordedEvent[]) {
  for (let i = 1; i < delivered.length; i++) {
    expect((delivered[i] as RecordedEvent).position).toBeGreaterThan((delivered[i - 1] as RecordedEvent).position)
  }
  const next = new Map<string, bigint>()
  for (const event of delivered) {
    const expected = next.get(event.streamId) ?? 0n
    expect(event.revision, `${event.streamId} revision`).toBe(expected)
    next.set(event.streamId, expected + 1n)
  }
}

/** Resolves once `count` parties have arrived: everyone reads before anyone writes. */
export function barrier(count: number) {
  let arrived = 0
  let release!: () => void
  const all = new Promise<void>((resolve) => {
    release = resolve
  })
  return async () => {
    arrived++
    if (arrived === count) release()
    await all
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
