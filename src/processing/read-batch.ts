import { maxOf } from '../core/bigints.js'
import type { EventFilter, EventStore, RecordedEvent } from '../core/types.js'

export interface Batch {
  events: RecordedEvent[]
  /** Every event up to here was read (the batch's last position, or the head when caught up). */
  end: bigint
}

/**
 * The next batch after `from`. It ends on a whole stored event: the events one stored event
 * upcasts into share its position, and a checkpoint between them would skip the rest.
 */
export async function readBatch(
  store: EventStore,
  from: bigint,
  head: bigint,
  size: number,
  filter: EventFilter | undefined,
): Promise<Batch> {
  // One event more than a batch: it tells whether the batch's last stored event is complete.
  const read = await collect(store.readAll({ after: from, maxCount: size + 1, filter }))
  if (read.length <= size) {
    // Reached the end: everything up to the head read before it is seen, filtered out or not.
    return { events: read, end: maxOf([read.at(-1)?.position ?? from, head], head) }
  }
  const next = read.pop() as RecordedEvent
  const last = read.at(-1) as RecordedEvent
  if (next.position !== last.position) return { events: read, end: last.position }
  // The batch ends inside a stored event's events: it stops before it, the next batch reads it whole.
  const whole = read.filter((e) => e.position !== last.position)
  if (whole.length > 0) return { events: whole, end: (whole.at(-1) as RecordedEvent).position }
  const all = await collect(store.readAll({ after: last.position - 1n, filter }), last.position)
  return { events: all, end: last.position }
}

/** The events of a read, or, with `only`, those at that position (a read is in position order). */
async function collect(events: AsyncIterable<RecordedEvent>, only?: bigint): Promise<RecordedEvent[]> {
  const found: RecordedEvent[] = []
  for await (const event of events) {
    if (only !== undefined && event.position !== only) break
    found.push(event)
  }
  return found
}
