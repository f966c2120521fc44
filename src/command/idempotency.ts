import type { EventStore, RecordedEvent } from '../core/types.js'
import { commandEventId } from './command-ids.js'
import type { CommandResult } from './handle-command.js'

// Commands append a few events; read that many at a time rather than a store page of a thousand.
const CHUNK = 32

/**
 * The result of an earlier handling of this command on this stream, rebuilt from what it appended,
 * or undefined if nothing it appended is stored. Its first event has a known id, so one lookup
 * finds it wherever it is, even behind a snapshot.
 */
export async function earlierResult<R extends CommandResult>(
  store: EventStore,
  streamId: string,
  commandId: string,
): Promise<R | undefined> {
  const revision = await locate(store, streamId, commandEventId(commandId, streamId, 0))
  return revision === undefined ? undefined : readCommand<R>(store, streamId, commandId, revision)
}

async function locate(store: EventStore, streamId: string, eventId: string): Promise<bigint | undefined> {
  if (store.locateEvent !== undefined) {
    const location = await store.locateEvent(eventId)
    return location?.streamId === streamId ? location.revision : undefined
  }
  // A store without the capability: look for it from the end, where a retried command usually is.
  for await (const event of store.readStream(streamId, { direction: 'backwards' })) {
    if (event.id === eventId) return event.revision
  }
  return undefined
}

/** The run of events from `from` whose ids are the command's, in order: what one handling appended. */
export async function readCommand<R extends CommandResult>(
  store: EventStore,
  streamId: string,
  commandId: string,
  from: bigint,
): Promise<R | undefined> {
  const events: RecordedEvent[] = []
  for (let next = from; ; ) {
    let read = 0
    for await (const event of store.readStream(streamId, { fromRevision: next, maxCount: CHUNK })) {
      read++
      if (event.id !== commandEventId(commandId, streamId, events.length)) return resultOf(events)
      events.push(event)
      next = event.revision + 1n
    }
    if (read < CHUNK) return resultOf(events)
  }
}

function resultOf<R extends CommandResult>(events: RecordedEvent[]): R | undefined {
  const last = events.at(-1)
  if (last === undefined) return undefined
  return { nextExpectedRevision: last.revision, position: last.position, events } as unknown as R
}
