import { DuplicateEventIdError, StreamDeletedError, WrongExpectedRevisionError } from '../core/errors.js'
import type { AppendResult } from '../core/types.js'
import type { AppendRequest } from './sql.js'

/** One result row of append_batch. */
export interface AppendRow {
  r_status: 'ok' | 'duplicate' | 'deleted' | 'wrong_revision'
  r_revision: bigint | null
  r_position: bigint | null
  r_duplicate: string | null
}

export type AppendOutcome = { ok: true; result: AppendResult } | { ok: false; error: Error }

/** Turns a row into the caller's result or the same typed error the core rules would throw. */
export function toAppendOutcome(request: AppendRequest, row: AppendRow | undefined): AppendOutcome {
  const { streamId, expected } = request
  switch (row?.r_status) {
    case 'ok':
      return { ok: true, result: { nextExpectedRevision: row.r_revision as bigint, position: row.r_position as bigint } }
    case 'duplicate':
      return { ok: false, error: new DuplicateEventIdError(streamId, row.r_duplicate as string) }
    case 'deleted':
      return { ok: false, error: new StreamDeletedError(streamId) }
    case 'wrong_revision':
      return { ok: false, error: new WrongExpectedRevisionError(streamId, expected, row.r_revision ?? 'no_stream') }
    default:
      // Cannot happen unless the function and this code disagree; never report success for it.
      return {
        ok: false,
        error: new Error(`append_batch returned no usable row for '${streamId}' (status ${String(row?.r_status)})`),
      }
  }
}
