import { InvalidInputError } from '../../core/errors.js'
import { createMessage, fromCloudEvent, type OutgoingMessage, toCloudEvent } from '../envelope.js'

/** A message as an outbox table keeps it: its id, its partition key and the CloudEvent as JSON text. */
export interface OutboxRow {
  id: string
  key: string | null
  event: string
}

/** The rows for `messages`, with ids and conversation filled in now (in the caller's handler context). */
export function outboxRows(messages: readonly OutgoingMessage[], source: string): OutboxRow[] {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new InvalidInputError('INVALID_ARGUMENT', 'messages must be a non-empty array', 'messages')
  }
  return messages
    .map((m, i) => createMessage(m, source, i))
    .map((m) => ({ id: m.id, key: m.partitionKey ?? null, event: JSON.stringify(toCloudEvent(m)) }))
}

/** A stored CloudEvent back as a message to publish, ids and conversation kept. */
export function fromOutboxRow(event: string): OutgoingMessage {
  const { time, ...message } = fromCloudEvent(JSON.parse(event))
  return { ...message, ...(time === undefined ? {} : { time }) } as OutgoingMessage
}
