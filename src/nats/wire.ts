import { type MsgHdrs, headers as natsHeaders } from '@nats-io/transport-node'
import type { IncomingBinaryMessage } from '../messaging/binary-mode.js'
import { H } from './names.js'

/** `values` as NATS headers. Built once per message, not per attempt: a retry sends the same. */
export function toHeaders(values: Record<string, string>): MsgHdrs {
  const headers = natsHeaders()
  // `append`, not `set`: on fresh headers with distinct names they agree, and `set` first searches
  // every name already there to delete it, twice the cost (a publish builds these per message).
  for (const name in values) headers.append(name, values[name] as string)
  return headers
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
  // Walked by index rather than split into lines: only names and values become strings.
  for (let at = text.indexOf('\r\n'); at !== -1; ) {
    const start = at + 2
    at = text.indexOf('\r\n', start)
    const end = at === -1 ? text.length : at
    const colon = text.indexOf(':', start)
    if (colon <= start || colon >= end) continue
    const name = text.slice(start, colon).trim()
    if (!Object.hasOwn(values, name)) values[name] = text.slice(colon + 1, end).trim()
  }
  return values
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
