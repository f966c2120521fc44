import { EventfoldError, InvalidInputError } from '../core/errors.js'

/**
 * A message on the wire that is not a CloudEvent we can read: a required attribute is missing or
 * malformed, or the body is not the JSON its content type promises. It goes to the dead-letter
 * destination at once, since retrying cannot change its bytes.
 */
export class UndecodableMessageError extends EventfoldError {
  constructor(
    message: string,
    /** The attribute or part at fault (`id`, `specversion`, `data`…). */
    readonly field: string,
    options?: { cause?: unknown },
  ) {
    super('UNDECODABLE_MESSAGE', message, options)
  }
}

export class TransportClosedError extends EventfoldError {
  constructor() {
    super('TRANSPORT_CLOSED', 'The transport is closed')
  }
}

/** The broker could not be reached, or the connection dropped and did not come back in time. */
export class TransportUnavailableError extends EventfoldError {
  constructor(message: string, cause?: unknown) {
    super('TRANSPORT_UNAVAILABLE', message, { cause })
  }
}

/** The broker refused (nacked) a publish: the message may not have been stored. Safe to publish again with the same id. */
export class PublishNotConfirmedError extends EventfoldError {
  constructor(
    readonly messageId: string,
    cause?: unknown,
  ) {
    super('PUBLISH_NOT_CONFIRMED', `The broker did not confirm message ${messageId}`, { cause })
  }
}

export class DeadLetterNotFoundError extends EventfoldError {
  constructor(readonly deadLetterId: string) {
    super('DEAD_LETTER_NOT_FOUND', `No dead letter ${deadLetterId}`)
  }
}

/** A message bigger than the transport takes (headers and body together); nothing of its batch was published. */
export class MessageTooLargeError extends InvalidInputError {
  constructor(
    readonly messageIndex: number,
    readonly size: number,
    readonly limit: number,
  ) {
    super('MESSAGE_TOO_LARGE', `Message #${messageIndex} is ${size} bytes; the limit is ${limit}`, `messages[${messageIndex}]`)
  }
}
