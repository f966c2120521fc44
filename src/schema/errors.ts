import { EventfoldError, InvalidInputError } from '../core/errors.js'

/** One reason a payload failed its schema: where (keys and indexes from the payload's root) and why. */
export interface SchemaIssue {
  path: (string | number)[]
  message: string
}

/**
 * An event of an append failed its schema (or its type is retired or renamed); nothing of that
 * append was written.
 *
 * @example
 * try {
 *   await store.appendToStream('account-1', [{ type: 'Deposited', data: { amount: 'ten' } }])
 * } catch (error) {
 *   if (isEventfoldError(error, 'INVALID_EVENT')) return reply(400, error.issues) // [{ path: ['amount'], message: '…' }]
 * }
 */
export class InvalidEventError extends InvalidInputError {
  constructor(
    readonly eventIndex: number,
    readonly eventType: string,
    readonly issues: SchemaIssue[],
  ) {
    const first = issues[0]
    const where = first === undefined || first.path.length === 0 ? '' : ` at ${first.path.join('.')}`
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''
    super(
      'INVALID_EVENT',
      `Event #${eventIndex} (${eventType}) does not match its schema${where}: ${first?.message ?? 'invalid'}${more}`,
      `events[${eventIndex}].data`,
    )
  }
}

/** An append named a type the registry does not define, and the registry rejects unknown types. */
export class UnknownEventTypeError extends InvalidInputError {
  constructor(
    readonly eventIndex: number,
    readonly eventType: string,
  ) {
    super(
      'UNKNOWN_EVENT_TYPE',
      `Event #${eventIndex} has type '${eventType}', which the schema registry does not define`,
      `events[${eventIndex}].type`,
    )
  }
}

/** An upcaster threw or returned something unusable while reading a stored event. Stored data is untouched. */
export class UpcastError extends EventfoldError {
  constructor(
    readonly eventId: string,
    readonly eventType: string,
    /** The version the failing step started from; undefined when the stored version itself was unreadable. */
    readonly fromVersion: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('UPCAST_FAILED', `Upcasting event ${eventId} (${eventType}): ${message}`, options)
  }
}

/** A definition or registry that cannot work as declared (a gap in the upcasters, a type defined twice…). */
export class SchemaDefinitionError extends EventfoldError {
  constructor(
    readonly eventType: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('INVALID_SCHEMA_DEFINITION', `${eventType}: ${message}`, options)
  }
}
