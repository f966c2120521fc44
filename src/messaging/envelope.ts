import { InvalidInputError } from '../core/errors.js'
import type { JsonValue } from '../core/types.js'
import { uuidv7 } from '../core/uuid.js'
import { currentMessage } from './context.js'
import { UndecodableMessageError } from './errors.js'

/**
 * A CloudEvents 1.0 event as it travels: the attribute names are the spec's, lowercase, so a
 * consumer that knows CloudEvents and not eventfold can read it. Extensions: `correlationid`,
 * `causationid`, `partitionkey` (the spec's partitioning extension), `dataschemaversion` (the
 * version of the event's schema, see `defineEvent`) and `traceparent` (W3C trace context, the
 * spec's distributed-tracing extension).
 */
export interface CloudEvent {
  specversion: '1.0'
  id: string
  source: string
  type: string
  time?: string
  subject?: string
  datacontenttype?: string
  data: JsonValue
  correlationid?: string
  causationid?: string
  partitionkey?: string
  dataschemaversion?: number
  traceparent?: string
}

/** A message as eventfold code sees it: the CloudEvent's attributes, in camelCase and typed. */
export interface Message<Data = JsonValue> {
  id: string
  type: string
  source: string
  data: Data
  /** When the message was created; absent only on a foreign message that did not say. */
  time?: Date
  subject?: string
  /** The id of the first message of the conversation; a message that starts one has its own id. */
  correlationId: string
  /** The id of the message whose handling published this one; a message that starts a conversation has its own id. */
  causationId: string
  /** Messages with the same key are handled in publish order, one at a time. */
  partitionKey?: string
  dataSchemaVersion?: number
  traceparent?: string
}

/** What a caller hands to `publish`. Everything but `type` and `data` has a default. */
export interface OutgoingMessage<Data = JsonValue> {
  type: string
  data: Data
  /** Defaults to a new UUIDv7. */
  id?: string
  source?: string
  subject?: string
  time?: Date
  partitionKey?: string
  /** Defaults to the message being handled (inside a handler), else to the message's own id. */
  correlationId?: string
  /** Defaults to the id of the message being handled (inside a handler), else to the message's own id. */
  causationId?: string
  dataSchemaVersion?: number
  traceparent?: string
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/

const TEXT_FIELDS = ['id', 'source', 'subject', 'partitionKey', 'correlationId', 'causationId'] as const

// The field's path is built only on failure: a publish of many messages checks seven fields each.
const at = (index: number, field: string) => `messages[${index}].${field}`

function checkText(value: unknown, index: number, field: string, required: boolean): void {
  if (value === undefined && !required) return
  // Attributes travel as headers: a line break would end the header early on some protocols.
  if (typeof value !== 'string' || value.length === 0 || /[\r\n\0]/.test(value)) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      `${at(index, field)} must be a non-empty string on one line`,
      at(index, field),
    )
  }
}

/** Checks what the caller handed over; returns the data as JSON, which a transport then sends as it is. */
function checkOutgoing(message: OutgoingMessage, index: number): string {
  checkText(message.type, index, 'type', true)
  for (const field of TEXT_FIELDS) checkText(message[field], index, field, false)
  if (message.traceparent !== undefined && !TRACEPARENT.test(message.traceparent)) {
    throw new InvalidInputError('INVALID_ARGUMENT', 'traceparent must be a W3C traceparent', at(index, 'traceparent'))
  }
  const version = message.dataSchemaVersion
  if (version !== undefined && !(Number.isSafeInteger(version) && version >= 0)) {
    throw new InvalidInputError(
      'INVALID_ARGUMENT',
      'dataSchemaVersion must be a whole number ≥ 0',
      at(index, 'dataSchemaVersion'),
    )
  }
  if (message.data === undefined) throw new InvalidInputError('INVALID_ARGUMENT', 'data is required', at(index, 'data'))
  return toJson(message.data, at(index, 'data'))
}

function toJson(data: unknown, field: string): string {
  let text: string | undefined
  try {
    text = JSON.stringify(data)
  } catch (cause) {
    throw new InvalidInputError('INVALID_ARGUMENT', `${field} cannot be serialized to JSON`, field, { cause })
  }
  if (text === undefined) throw new InvalidInputError('INVALID_ARGUMENT', `${field} cannot be serialized to JSON`, field)
  return text
}

/**
 * Fills in what the caller left out. Inside a handler the new message continues the conversation
 * of the one being handled: same correlation id, causation id = that message's id, same trace.
 */
export function createMessage(outgoing: OutgoingMessage, defaultSource: string, index = 0): Message {
  return createMessageWithJson(outgoing, defaultSource, index).message
}

/**
 * `createMessage`, plus the data as JSON text: checking the data serialized it already, and a
 * transport sends that text rather than serializing the data a second time.
 * @internal
 */
export function createMessageWithJson(
  outgoing: OutgoingMessage,
  defaultSource: string,
  index = 0,
): { message: Message; json: string } {
  const json = checkOutgoing(outgoing, index)
  const parent = currentMessage()
  const id = outgoing.id ?? uuidv7()
  const message: Message = {
    id,
    type: outgoing.type,
    source: outgoing.source ?? defaultSource,
    data: outgoing.data,
    time: outgoing.time ?? new Date(),
    correlationId: outgoing.correlationId ?? parent?.correlationId ?? id,
    causationId: outgoing.causationId ?? parent?.id ?? id,
  }
  const traceparent = outgoing.traceparent ?? parent?.traceparent
  if (outgoing.subject !== undefined) message.subject = outgoing.subject
  if (outgoing.partitionKey !== undefined) message.partitionKey = outgoing.partitionKey
  if (outgoing.dataSchemaVersion !== undefined) message.dataSchemaVersion = outgoing.dataSchemaVersion
  if (traceparent !== undefined) message.traceparent = traceparent
  return { message, json }
}

let formattedMs = Number.NaN
let formatted = ''

/**
 * `time.toISOString()`, formatted once per millisecond: a batch is created within one or two
 * milliseconds, and formatting a date costs more than the rest of a message's attributes.
 * @internal
 */
export function isoTime(time: Date): string {
  const ms = time.getTime()
  // An invalid date (NaN) never equals the cache, so toISOString throws for it as before.
  if (ms !== formattedMs) {
    formatted = time.toISOString()
    formattedMs = ms
  }
  return formatted
}

export function toCloudEvent(message: Message): CloudEvent {
  const event: CloudEvent = {
    specversion: '1.0',
    id: message.id,
    source: message.source,
    type: message.type,
    datacontenttype: 'application/json',
    data: message.data as JsonValue,
    correlationid: message.correlationId,
    causationid: message.causationId,
  }
  if (message.time !== undefined) event.time = isoTime(message.time)
  if (message.subject !== undefined) event.subject = message.subject
  if (message.partitionKey !== undefined) event.partitionkey = message.partitionKey
  if (message.dataSchemaVersion !== undefined) event.dataschemaversion = message.dataSchemaVersion
  if (message.traceparent !== undefined) event.traceparent = message.traceparent
  return event
}

function required(event: Partial<CloudEvent>, field: 'id' | 'source' | 'type'): string {
  const value = event[field]
  if (typeof value !== 'string' || value.length === 0) {
    throw new UndecodableMessageError(`CloudEvent attribute '${field}' is missing or empty`, field)
  }
  return value
}

/** Checks a CloudEvent read off the wire; a foreign one without our extensions starts its own conversation. */
export function fromCloudEvent(event: Partial<CloudEvent>): Message {
  if (event.specversion !== '1.0') {
    throw new UndecodableMessageError(`Unsupported CloudEvents specversion ${JSON.stringify(event.specversion)}`, 'specversion')
  }
  const id = required(event, 'id')
  const message: Message = {
    id,
    source: required(event, 'source'),
    type: required(event, 'type'),
    data: event.data ?? null,
    correlationId: event.correlationid ?? id,
    causationId: event.causationid ?? id,
  }
  if (event.time !== undefined) {
    const time = new Date(event.time)
    if (Number.isNaN(time.getTime())) throw new UndecodableMessageError(`Bad CloudEvent time '${event.time}'`, 'time')
    message.time = time
  }
  if (event.subject !== undefined) message.subject = event.subject
  if (event.partitionkey !== undefined) message.partitionKey = event.partitionkey
  if (event.dataschemaversion !== undefined) message.dataSchemaVersion = event.dataschemaversion
  if (event.traceparent !== undefined) message.traceparent = event.traceparent
  return message
}
