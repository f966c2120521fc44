import { randomUUID } from 'node:crypto'
import type { ProcessingTx } from '../core/internal.js'
import type { RecordedEvent } from '../core/types.js'
import type { ProcessorBatchHandler, ProcessorContext, ProcessorHandler } from './types.js'

export type { ProcessorContext }

/** What the processor's transactions need to know about it. */
export interface HandlingSetup {
  name: string
  member: string
  /** Runs the user's handler (per event or per batch) on events in log order. */
  handle(events: RecordedEvent[], tx: ProcessingTx, attempt: number): Promise<void>
  partitionOf(streamId: string): number
}

/** Turns the user's handler into the one shape the processor calls. */
export function userHandler(
  setup: Omit<HandlingSetup, 'handle'>,
  handler: ProcessorHandler | undefined,
  batch: ProcessorBatchHandler | undefined,
): HandlingSetup['handle'] {
  if (batch !== undefined) {
    return async (events, tx, attempt) => {
      const first = events[0] as RecordedEvent
      await batch(events, contextFor(setup, tx, setup.partitionOf(first.streamId), attempt))
    }
  }
  const one = handler as ProcessorHandler
  return async (events, tx, attempt) => {
    for (const event of events) await one(event, contextFor(setup, tx, setup.partitionOf(event.streamId), attempt))
  }
}

export function contextFor(
  setup: Omit<HandlingSetup, 'handle'>,
  tx: ProcessingTx,
  partition: number,
  attempt: number,
): ProcessorContext {
  const ctx: ProcessorContext = {
    tx: tx.handle,
    processor: setup.name,
    partition,
    attempt,
    documents: (collection) => tx.documents(setup.name, collection) as never,
  }
  // Hidden from users: the library's own layers (projections) reach the whole transaction through it.
  Object.defineProperty(ctx, RAW_TX, { value: tx, enumerable: false })
  return ctx
}

const RAW_TX = Symbol('eventfold.processingTx')

/** The processing transaction behind a handler's context. */
export const txOf = (ctx: ProcessorContext): ProcessingTx =>
  (ctx as unknown as Record<symbol, ProcessingTx>)[RAW_TX] as ProcessingTx

/**
 * Handles `events` in one transaction, except those of streams with a parked event: those are
 * held back (recorded behind it) so the stream keeps its order. `suspect` lists the streams that
 * may be parked; only they pay for the lock and the check.
 */
export async function handleInTx(
  setup: HandlingSetup,
  tx: ProcessingTx,
  events: RecordedEvent[],
  suspect: ReadonlySet<string>,
  attempt: number,
): Promise<{ held: RecordedEvent[]; cleared: string[] }> {
  const held: RecordedEvent[] = []
  const cleared: string[] = []
  const run: RecordedEvent[] = []
  const checked = new Map<string, boolean>()
  for (const event of events) {
    if (suspect.has(event.streamId)) {
      let parked = checked.get(event.streamId)
      if (parked === undefined) {
        parked = await tx.lockStream(setup.name, event.streamId)
        checked.set(event.streamId, parked)
        if (!parked) cleared.push(event.streamId)
      }
      if (parked) {
        held.push(event)
        await tx.insertParked(setup.name, parkedRecord(setup, event, 'held', '', 0))
        continue
      }
    }
    run.push(event)
  }
  if (run.length > 0) await setup.handle(run, tx, attempt)
  return { held, cleared }
}

export function parkedRecord(
  setup: HandlingSetup,
  event: RecordedEvent,
  status: 'parked' | 'held',
  error: string,
  attempts: number,
) {
  return {
    id: randomUUID(),
    streamId: event.streamId,
    partition: setup.partitionOf(event.streamId),
    position: event.position,
    eventId: event.id,
    status,
    error,
    attempts,
    parkedAt: new Date(),
  }
}
