import type { JsonValue } from '../core/types.js'
import { type CloudEvent, fromCloudEvent, isoTime, type Message } from './envelope.js'
import { UndecodableMessageError } from './errors.js'

/**
 * The CloudEvents protocol bindings eventfold speaks, each in binary content mode (attributes in
 * headers, data alone in the body, so a consumer that ignores CloudEvents still reads plain JSON):
 * - `amqp`: application properties prefixed `cloudEvents_` (`cloudEvents:` is read too, the older
 *   spelling some AMQP 1.0 stacks still send); RabbitMQ carries them as message headers.
 * - `nats`: NATS headers prefixed `ce-`.
 * - `kafka`: headers prefixed `ce_`; also used for Redis stream fields, which have no binding of their own.
 * The content type goes in the protocol's own slot (AMQP `content-type` property, a `content-type`
 * header elsewhere): the adapter puts `contentType` there.
 */
export type Binding = 'amqp' | 'nats' | 'kafka'

export interface BinaryMessage {
  headers: Record<string, string>
  contentType: string | undefined
  body: Buffer
}

/** What arrives: header values as the client library gives them. */
export interface IncomingBinaryMessage {
  headers: Record<string, unknown>
  contentType?: string | undefined
  /** Text where the broker hands over text (Redis fields): decoding it again would only cost a copy. */
  body: Uint8Array | string
}

const PREFIXES: Record<Binding, readonly string[]> = {
  amqp: ['cloudEvents_', 'cloudEvents:'],
  nats: ['ce-'],
  kafka: ['ce_'],
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i

const ATTRIBUTES = [
  'specversion',
  'id',
  'source',
  'type',
  'correlationid',
  'causationid',
  'time',
  'subject',
  'partitionkey',
  'dataschemaversion',
  'traceparent',
] as const

type HeaderNames = Record<(typeof ATTRIBUTES)[number], string>

// Built once per binding: a header name made per message would be a new string to hash each time.
const HEADER_NAMES = Object.fromEntries(
  Object.entries(PREFIXES).map(([binding, [prefix]]) => [
    binding,
    Object.fromEntries(ATTRIBUTES.map((a) => [a, `${prefix}${a}`])),
  ]),
) as Record<Binding, HeaderNames>

/** The header names the binding writes attributes under. */
export function binaryHeaderNames(binding: Binding): string[] {
  return Object.values(HEADER_NAMES[binding])
}

export function encodeBinary(message: Message, binding: Binding): BinaryMessage {
  return encodeBinaryJson(message, binding, JSON.stringify(message.data))
}

/**
 * `encodeBinary` with the data already serialized (`createMessageWithJson` gives it). The headers
 * are those of `toCloudEvent` in its order: this runs once per message published.
 * @internal
 */
export function encodeBinaryJson(message: Message, binding: Binding, json: string): BinaryMessage {
  const headers: Record<string, string> = {}
  putHeaders(message, HEADER_NAMES[binding], headers, setHeader)
  return { headers, contentType: 'application/json', body: Buffer.from(json) }
}

/**
 * The headers `encodeBinaryJson` makes, appended to `into` as name, value, name, value…: the form
 * a Redis entry's fields take, built without the object in between.
 * @internal
 */
export function appendBinaryHeaders(message: Message, binding: Binding, into: string[]): void {
  putHeaders(message, HEADER_NAMES[binding], into, pushHeader)
}

// A target and a function that is no closure: nothing is made per message to receive the headers.
type PutHeader<T> = (target: T, name: string, value: string) => void
const setHeader: PutHeader<Record<string, string>> = (headers, name, value) => {
  headers[name] = value
}
const pushHeader: PutHeader<string[]> = (list, name, value) => {
  list.push(name, value)
}

// Field by field, in the order of `toCloudEvent`.
function putHeaders<T>(message: Message, n: HeaderNames, target: T, put: PutHeader<T>): void {
  put(target, n.specversion, '1.0')
  put(target, n.id, String(message.id))
  put(target, n.source, String(message.source))
  put(target, n.type, String(message.type))
  put(target, n.correlationid, String(message.correlationId))
  put(target, n.causationid, String(message.causationId))
  if (message.time !== undefined) put(target, n.time, isoTime(message.time))
  if (message.subject !== undefined) put(target, n.subject, String(message.subject))
  if (message.partitionKey !== undefined) put(target, n.partitionkey, String(message.partitionKey))
  if (message.dataSchemaVersion !== undefined) put(target, n.dataschemaversion, String(message.dataSchemaVersion))
  if (message.traceparent !== undefined) put(target, n.traceparent, String(message.traceparent))
}

function headerText(value: unknown, name: string): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8')
  throw new UndecodableMessageError(`Header '${name}' is not text`, name)
}

const LOWER_PREFIXES: Record<Binding, readonly string[]> = {
  amqp: PREFIXES.amqp.map((p) => p.toLowerCase()),
  nats: PREFIXES.nats.map((p) => p.toLowerCase()),
  kafka: PREFIXES.kafka.map((p) => p.toLowerCase()),
}

/** The length of the binding's prefix `name` starts with, in any case; 0 when it has none. */
function prefixLength(name: string, prefixes: readonly string[]): number {
  for (const prefix of prefixes) {
    if (name.length <= prefix.length) continue
    // Exact first: the spelling every sender we know uses, and no string to build for it.
    if (name.startsWith(prefix) || name.slice(0, prefix.length).toLowerCase() === prefix) return prefix.length
  }
  return 0
}

/** Per binding, the attribute each header name read so far stands for ('' for none): the same few names come with every delivery. */
const ATTRIBUTE_NAMES: Record<Binding, Map<string, string>> = { amqp: new Map(), nats: new Map(), kafka: new Map() }
/** Names come from senders: those that repeat are few, and a flood of others is not remembered. */
const MAX_REMEMBERED_NAMES = 256

function attributeName(name: string, binding: Binding): string {
  const remembered = ATTRIBUTE_NAMES[binding]
  let attribute = remembered.get(name)
  if (attribute === undefined) {
    const length = prefixLength(name, LOWER_PREFIXES[binding])
    attribute = length > 0 ? name.slice(length).toLowerCase() : ''
    if (remembered.size < MAX_REMEMBERED_NAMES) remembered.set(name, attribute)
  }
  return attribute
}

// Runs once per delivery on every transport: one pass over the headers, no intermediate objects.
function attributesOf(headers: Record<string, unknown>, binding: Binding): Record<string, string> {
  const attributes: Record<string, string> = {}
  for (const name of Object.keys(headers)) {
    const attribute = attributeName(name, binding)
    if (attribute !== '') attributes[attribute] = headerText(headers[name], name)
  }
  return attributes
}

function bodyText(body: Uint8Array | string): string {
  if (typeof body === 'string') return body
  // A view, not a copy: the bytes are only read.
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  return bytes.toString('utf8')
}

function parseData(body: Uint8Array | string, contentType: string | undefined): JsonValue {
  // The spec lets a binary-mode message omit the content type; ours always carry JSON.
  if (contentType !== undefined && contentType !== 'application/json' && !JSON_TYPE.test(contentType)) {
    throw new UndecodableMessageError(`Content type '${contentType}' is not JSON`, 'datacontenttype')
  }
  const text = bodyText(body)
  if (text.length === 0) return null
  try {
    return JSON.parse(text) as JsonValue
  } catch (cause) {
    throw new UndecodableMessageError('The body is not valid JSON', 'data', { cause })
  }
}

function parseVersion(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d{1,15}$/.test(text)) throw new UndecodableMessageError(`Bad dataschemaversion '${text}'`, 'dataschemaversion')
  return Number(text)
}

/** Reads a binary-mode CloudEvent; throws `UndecodableMessageError` (code `UNDECODABLE_MESSAGE`) when it is not one. */
export function decodeBinary(incoming: IncomingBinaryMessage, binding: Binding): Message {
  const attributes = attributesOf(incoming.headers, binding)
  const contentType = incoming.contentType ?? attributes.datacontenttype
  // The attributes object is ours alone: it becomes the event in place rather than through copies.
  const event = attributes as unknown as Partial<CloudEvent>
  const version = parseVersion(attributes.dataschemaversion)
  if (version === undefined) delete event.dataschemaversion
  else event.dataschemaversion = version
  event.data = parseData(incoming.body, contentType)
  return fromCloudEvent(event)
}
