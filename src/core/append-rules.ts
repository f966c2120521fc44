import { DuplicateEventIdError, StreamDeletedError, WrongExpectedRevisionError } from './errors.js'
import type { ActualRevision, AppendResult, ExpectedRevision } from './types.js'

/** What a backend knows of a stream before writing to it. Absent: the stream was never written. */
export interface StreamState {
  /** Revision of the last event ever appended (kept through a soft delete); -1 for a tombstone only. */
  revision: bigint
  status: 'live' | 'soft_deleted' | 'hard_deleted'
}

/** Where an event id that an append reuses is already stored. */
export interface StoredEventRef {
  id: string
  streamId: string
  revision: bigint
  position: bigint
}

export type AppendDecision = { write: true; firstRevision: bigint } | { write: false; result: AppendResult }

export const actualRevision = (state: StreamState | undefined): ActualRevision =>
  state === undefined || state.revision < 0n ? 'no_stream' : state.revision

/**
 * The expected-revision check. A soft-deleted stream still exists here: its revision numbers
 * continue, so optimistic concurrency must keep comparing against them.
 */
export function checkRevision(streamId: string, expected: ExpectedRevision, state: StreamState | undefined) {
  const actual = actualRevision(state)
  const ok =
    expected === 'any' ||
    (expected === 'no_stream' && actual === 'no_stream') ||
    (expected === 'stream_exists' && actual !== 'no_stream') ||
    (typeof expected === 'bigint' && expected === actual)
  if (!ok) throw new WrongExpectedRevisionError(streamId, expected, actual)
}

/**
 * An append whose ids are all already stored, in order, at the place this append would have put
 * them is a retry of a committed append: it returns the first result and writes nothing. Any other
 * reuse of an id is an error.
 */
function retriedResult(
  streamId: string,
  expected: ExpectedRevision,
  ids: readonly string[],
  found: readonly StoredEventRef[],
): AppendResult | undefined {
  if (found.length !== ids.length) return undefined
  const byId = new Map(found.map((ref) => [ref.id, ref]))
  const first = byId.get(ids[0] as string)
  if (first === undefined) return undefined
  const expectedFirst = typeof expected === 'bigint' ? expected + 1n : expected === 'no_stream' ? 0n : first.revision
  if (first.revision !== expectedFirst) return undefined
  let last = first
  for (let i = 0; i < ids.length; i++) {
    const ref = byId.get(ids[i] as string)
    if (ref === undefined || ref.streamId !== streamId || ref.revision !== first.revision + BigInt(i)) return undefined
    last = ref
  }
  return { nextExpectedRevision: last.revision, position: last.position }
}

/** Decides an append against stored state, for backends that run the rules in TypeScript. */
export function decideAppend(
  streamId: string,
  expected: ExpectedRevision,
  state: StreamState | undefined,
  ids: readonly string[],
  found: readonly StoredEventRef[],
): AppendDecision {
  if (found.length > 0) {
    const result = retriedResult(streamId, expected, ids, found)
    if (result !== undefined) return { write: false, result }
    throw new DuplicateEventIdError(streamId, (found[0] as StoredEventRef).id)
  }
  if (state?.status === 'hard_deleted') throw new StreamDeletedError(streamId)
  checkRevision(streamId, expected, state)
  return { write: true, firstRevision: (state?.revision ?? -1n) + 1n }
}

/** Checks a delete against stored state: a tombstone cannot be deleted again. */
export function decideDelete(streamId: string, expected: ExpectedRevision, state: StreamState | undefined): void {
  if (state?.status === 'hard_deleted') throw new StreamDeletedError(streamId)
  checkRevision(streamId, expected, state)
}
