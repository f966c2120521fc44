import { type MsgHdrs, MsgHdrsImpl } from '@nats-io/transport-node'
import { binaryHeaderNames, type IncomingBinaryMessage } from '../messaging/binary-mode.js'
import { H } from './names.js'

/** JetStream's header for the id its duplicate window knows a message by. */
export const MSG_ID = 'Nats-Msg-Id'

/** `values` as NATS headers, with `msgId` as the message id. Built once per message, not per attempt: a retry sends the same. */
export function toHeaders(values: Record<string, string>, msgId?: string): MsgHdrs {
  const headers = new OutgoingHeaders()
  // Straight into the map rather than through `append`, which canonicalizes the name as a check,
  // searches every name already there and tests the value, twice the cost of the map and its
  // encoding: the names are a record's, so distinct, and ours or read off a header block. The
  // value is still checked (no line break) and trimmed as `append` does.
  const map = headers.headers
  for (const name in values) map.set(name, [MsgHdrsImpl.validHeaderValue(values[name] as string)])
  if (msgId !== undefined) map.set(MSG_ID, [MsgHdrsImpl.validHeaderValue(msgId)])
  return headers
}

/** The client's headers, encoded through `Buffer.from`: its `TextEncoder` costs more than building the text. */
class OutgoingHeaders extends MsgHdrsImpl {
  override encode(): Uint8Array {
    let text = 'NATS/1.0'
    for (const [name, values] of this.headers) for (const value of values) text += `\r\n${name}: ${value}`
    return Buffer.from(`${text}\r\n\r\n`)
  }
}

/** Each header's first value, as `MsgHdrs.get` gives it; read off the entries, since `get` scans every key per call. */
export function fromHeaders(headers: MsgHdrs | undefined): Record<string, string> {
  const values: Record<string, string> = {}
  if (headers === undefined) return values
  for (const [name, all] of headers) values[name] = all[0] ?? ''
  return values
}

/**
 * The headers of a delivered message as `fromHeaders` gives them, read straight off the header
 * block's bytes: the client's own decoding builds a map of arrays through a MIME key check per line,
 * several times the cost of the rest of a delivery. Undefined when the message is not shaped as the
 * client's messages are (another client version): the caller then takes the client's way.
 */
export function rawFields(msg: unknown): Record<string, string> | undefined {
  const impl = msg as { _rdata?: unknown; _msg?: { hdr?: unknown } }
  const length = impl._msg?.hdr
  if (!(impl._rdata instanceof Uint8Array) || typeof length !== 'number') return undefined
  const values: Record<string, string> = {}
  if (length < 0) return values
  const block = impl._rdata
  const text = Buffer.from(block.buffer, block.byteOffset, Math.min(length, block.byteLength)).toString('utf8')
  // The first line is the version and any status ("NATS/1.0 503"), the block ends with an empty line.
  if (!text.startsWith('NATS/')) return undefined
  // Walked by index rather than split into lines: only values, and names we do not know, become strings.
  for (let at = text.indexOf('\r\n'); at !== -1; ) {
    const start = at + 2
    at = text.indexOf('\r\n', start)
    const end = at === -1 ? text.length : at
    const colon = text.indexOf(':', start)
    if (colon <= start || colon >= end) continue
    const name = nameAt(text, start, colon)
    if (values[name] === undefined) values[name] = valueAt(text, colon + 1, end)
  }
  return values
}

/**
 * The headers eventfold's messages carry, by length. A line's name that is one of them becomes that
 * string, already interned: storing a key made fresh for each message cost V8 a string-table lookup.
 */
const KNOWN_NAMES: (string[] | undefined)[] = []
for (const name of new Set([...binaryHeaderNames('nats'), ...Object.values(H), MSG_ID])) {
  const same = KNOWN_NAMES[name.length]
  if (same === undefined) KNOWN_NAMES[name.length] = [name]
  else same.push(name)
}

/** The name between `start` and the colon, trimmed. */
function nameAt(text: string, start: number, colon: number): string {
  const name = text.slice(start, colon)
  const known = KNOWN_NAMES[name.length]
  if (known !== undefined) for (const candidate of known) if (name === candidate) return candidate
  return name.trim()
}

/** The value between the colon and `end`, trimmed: one string made, the one space after the colon skipped in place. */
function valueAt(text: string, from: number, end: number): string {
  const first = from < end && text.charCodeAt(from) === 32 ? from + 1 : from
  if (first === end) return ''
  if (plain(text.charCodeAt(first)) && plain(text.charCodeAt(end - 1))) return text.slice(first, end)
  return text.slice(from, end).trim()
}

/** Not a character `trim` could remove (anything in doubt goes to `trim`). */
function plain(code: number): boolean {
  return code > 32 && code < 127
}

/** The NATS binding puts the content type in a `content-type` header, beside the `ce-` attributes. */
export function toIncoming(headers: MsgHdrs | undefined, body: Uint8Array): IncomingBinaryMessage {
  return incomingOf(fromHeaders(headers), body)
}

export function incomingOf(fields: Record<string, string>, body: Uint8Array): IncomingBinaryMessage {
  return { headers: fields, contentType: fields[H.contentType], body }
}

/**
 * The message's own headers, without those eventfold or JetStream added on the way. `Nats-Msg-Id`
 * above all: copied into a dead letter or a replay, it would make JetStream drop the copy as a
 * duplicate of the original inside the stream's duplicate window.
 */
export function originalHeaders(headers: MsgHdrs | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fromHeaders(headers)).filter(([name]) => !name.startsWith('eventfold-') && !/^nats-/i.test(name)),
  )
}
