import { EventfoldError, InvalidInputError } from '../core/errors.js'
import { describeError, type ParkedListing, type ProcessingBackend, type ProcessingTx } from '../core/internal.js'
import type { EventStore, RecordedEvent } from '../core/types.js'
import type { HandlingSetup } from './handling.js'
import type { ParkedEvent, ParkedEvents } from './types.js'

/**
 * The dead letters of a processor. Releasing a stream goes one event per transaction, each under
 * the stream's lock: the parked event is handled (or skipped) and deleted, and the oldest held
 * event becomes the parked one, until none is left. The partition's owner takes the same lock
 * before holding a new event back, so it either holds it behind the released ones or, once the
 * last is gone, handles it itself: the stream's order survives either way.
 */
export class ParkedApi implements ParkedEvents {
  constructor(
    private readonly backend: ProcessingBackend,
    private readonly store: EventStore,
    private readonly setup: HandlingSetup,
    private readonly onReleased: () => void,
  ) {}

  async list(): Promise<ParkedEvent[]> {
    return (await this.backend.listParked(this.setup.name)).map(toParkedEvent)
  }

  retry(id: string): Promise<{ handled: number }> {
    return this.#release(id, true)
  }

  skip(id: string): Promise<{ handled: number }> {
    return this.#release(id, false)
  }

  async #release(id: string, handleFirst: boolean): Promise<{ handled: number }> {
    if (typeof id !== 'string' || id === '') throw new InvalidInputError('INVALID_ARGUMENT', 'id must be a string', 'id')
    let handled = 0
    let next: string | undefined = id
    let handle = handleFirst
    while (next !== undefined) {
      const current: string = next
      try {
        next = await this.backend.transaction((tx) => this.#releaseOne(tx, current, handle, current === id))
      } catch (error) {
        if (error instanceof EventfoldError && error.code === 'PARKED_EVENT_NOT_FOUND') throw error
        await this.backend.transaction((tx) => tx.recordFailure(this.setup.name, current, describeError(error)))
        throw new EventfoldError('PARKED_EVENT_FAILED', `Parked event ${current} failed again; it stays parked`, {
          cause: error,
        })
      } finally {
        this.onReleased()
      }
      if (handle) handled++
      handle = true
    }
    return { handled }
  }

  /** Handles (or drops) one parked event; returns the id of the held event that takes its place. */
  async #releaseOne(tx: ProcessingTx, id: string, handle: boolean, first: boolean): Promise<string | undefined> {
    const name = this.setup.name
    const found = await tx.getParked(name, id)
    if (found === undefined || (first && found.status !== 'parked')) {
      throw new EventfoldError('PARKED_EVENT_NOT_FOUND', `No parked event ${id} for processor '${name}'`)
    }
    await tx.lockStream(name, found.streamId)
    // Re-read under the lock: another release of the same stream may have finished meanwhile.
    const record = await tx.getParked(name, id)
    if (record === undefined) throw new EventfoldError('PARKED_EVENT_NOT_FOUND', `Parked event ${id} was released meanwhile`)
    if (handle) {
      const events = await eventsAt(this.store, record.position, record.eventId)
      // A stream deleted since has nothing left to handle: releasing it just moves on.
      if (events.length > 0) await this.setup.handle(events, tx, record.attempts + 1)
    }
    await tx.deleteParked(name, id)
    return (await tx.promoteNextHeld(name, record.streamId))?.id
  }
}

/** The events stored at a position (more than one when upcasting splits it). */
async function eventsAt(store: EventStore, position: bigint, eventId: string): Promise<RecordedEvent[]> {
  const found: RecordedEvent[] = []
  for await (const event of store.readAll({ after: position - 1n })) {
    if (event.position !== position) break
    found.push(event)
  }
  return found.length > 0 && found.some((e) => e.id === eventId || e.position === position) ? found : []
}

function toParkedEvent(row: ParkedListing): ParkedEvent {
  let error: ParkedEvent['error']
  try {
    error = JSON.parse(row.error)
  } catch {
    error = { name: 'Error', message: row.error }
  }
  return {
    id: row.id,
    streamId: row.streamId,
    position: row.position,
    eventId: row.eventId,
    partition: row.partition,
    error,
    attempts: row.attempts,
    parkedAt: row.parkedAt,
    held: row.held,
  }
}
