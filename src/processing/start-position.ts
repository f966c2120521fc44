import { InvalidInputError } from '../core/errors.js'
import type { EventStore } from '../core/types.js'
import type { ProcessorStart } from './types.js'

/** The checkpoint that makes a processor begin at `from`: events after it are handled. */
export async function checkpointFor(store: EventStore, from: ProcessorStart, head: () => Promise<bigint>): Promise<bigint> {
  if (from === 'start') return 0n
  if (from === 'end') return head()
  if (typeof from === 'object' && from !== null) {
    if ('position' in from && typeof from.position === 'bigint' && from.position >= 0n) return from.position
    if ('time' in from && from.time instanceof Date && !Number.isNaN(from.time.getTime())) {
      return lastBefore(store, from.time, await head())
    }
  }
  throw new InvalidInputError('INVALID_ARGUMENT', `must be 'start', 'end', { position: bigint } or { time: Date }`, 'startFrom')
}

/**
 * Position of the last event recorded before `time`, found by bisecting the log: positions are
 * in commit order and so, near enough, in time order. O(log n) indexed reads, no scan.
 */
async function lastBefore(store: EventStore, time: Date, head: bigint): Promise<bigint> {
  let low = 0n
  let high = head
  while (low < high) {
    const mid = (low + high + 1n) / 2n
    const event = await firstAfter(store, mid - 1n)
    if (event === undefined || event.position > high) high = mid - 1n
    else if (event.recordedAt.getTime() < time.getTime()) low = event.position
    else high = mid - 1n
  }
  return low
}

async function firstAfter(store: EventStore, after: bigint) {
  for await (const event of store.readAll({ after, maxCount: 1 })) return event
  return undefined
}
