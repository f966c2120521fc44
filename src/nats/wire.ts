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
