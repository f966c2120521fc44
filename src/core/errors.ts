import type { ActualRevision, ExpectedRevision } from './types.js'

export const ERROR_CODES = [
  'WRONG_EXPECTED_REVISION',
  'DUPLICATE_EVENT_ID',
  'STREAM_DELETED',
  'INVALID_STREAM_ID',
  'INVALID_EVENT_TYPE',
  'INVALID_EVENT_DATA',
  'INVALID_EVENT_ID',
  'INVALID_METADATA',
  'EVENT_TOO_LARGE',
  'INVALID_EXPECTED_REVISION',
  'INVALID_ARGUMENT',
  'STORE_UNAVAILABLE',
  'STORE_CLOSED',
  'SUBSCRIPTION_HANDLER_FAILED',
  'INVALID_EVENT',
  'UNKNOWN_EVENT_TYPE',
  'UPCAST_FAILED',
  'INVALID_SCHEMA_DEFINITION',
  'COMMAND_REJECTED',
  'LEASE_LOST',
  'PROCESSOR_RUNNING',
  'PROCESSOR_FAILED',
  'PROCESSOR_CONFIG_MISMATCH',
  'PROCESSING_UNSUPPORTED',
  'PARKED_EVENT_NOT_FOUND',
  'PARKED_EVENT_FAILED',
  'WAIT_TIMEOUT',
  'INVALID_PROJECTION',
  'INLINE_PROJECTION_FAILED',
  'UNDECODABLE_MESSAGE',
  'TRANSPORT_CLOSED',
  'TRANSPORT_UNAVAILABLE',
  'PUBLISH_NOT_CONFIRMED',
  'DEAD_LETTER_NOT_FOUND',
  'MESSAGE_TOO_LARGE',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES)

/**
 * Base of every error eventfold throws. Match on `code`, not on the class: two copies of the
 * package in one process have two classes but the same codes.
 */
export class EventfoldError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/**
 * True for an error eventfold threw (optionally with this code). It checks the code against the
 * known list rather than the class, so errors from another copy of the package match too, and a
 * driver's own `code` (a SQLSTATE, SQLITE_…) never does.
 */
export function isEventfoldError(error: unknown, code?: ErrorCode): error is EventfoldError {
  if (typeof error !== 'object' || error === null) return false
  const found = (error as { code?: unknown }).code
  return typeof found === 'string' && KNOWN_CODES.has(found) && (code === undefined || found === code)
}

const show = (revision: ExpectedRevision | ActualRevision): string =>
  typeof revision === 'bigint' ? revision.toString() : `'${revision}'`

export class WrongExpectedRevisionError extends EventfoldError {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual: ActualRevision,
  ) {
    super('WRONG_EXPECTED_REVISION', `Stream '${streamId}': expected revision ${show(expected)}, actual ${show(actual)}`)
  }
}

export class DuplicateEventIdError extends EventfoldError {
  constructor(
    readonly streamId: string,
    readonly eventId: string,
  ) {
    super('DUPLICATE_EVENT_ID', `Event id ${eventId} is already used elsewhere (appending to '${streamId}')`)
  }
}

export class StreamDeletedError extends EventfoldError {
  constructor(readonly streamId: string) {
    super('STREAM_DELETED', `Stream '${streamId}' was hard-deleted; it can never be written again`)
  }
}

/** Bad input from the caller; nothing was written. `field` names what was wrong. */
export class InvalidInputError extends EventfoldError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly field: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options)
  }
}

export class EventTooLargeError extends InvalidInputError {
  constructor(
    readonly eventIndex: number,
    readonly size: number,
    readonly limit: number,
  ) {
    super('EVENT_TOO_LARGE', `Event #${eventIndex} is ${size} bytes; the limit is ${limit}`, `events[${eventIndex}]`)
  }
}

/**
 * The database could not be reached or dropped the connection. For an append the outcome is
 * unknown: it may have committed. Retrying with the same event ids is safe (appends are idempotent).
 */
export class StoreUnavailableError extends EventfoldError {
  constructor(message: string, cause: unknown) {
    super('STORE_UNAVAILABLE', message, { cause })
  }
}

export class StoreClosedError extends EventfoldError {
  constructor() {
    super('STORE_CLOSED', 'The event store is closed')
  }
}

export class SubscriptionHandlerError extends EventfoldError {
  constructor(
    readonly position: bigint,
    cause: unknown,
  ) {
    super('SUBSCRIPTION_HANDLER_FAILED', `Subscription handler failed at ${position}`, { cause })
  }
}

/** What is kept of a failure (a dead letter, a parked event), whatever was thrown. */
export function errorSummary(error: unknown): { message: string; code?: string; name?: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return { message: error.message, name: error.name, ...(typeof code === 'string' ? { code } : {}) }
  }
  return { message: String(error) }
}
