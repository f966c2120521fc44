import { appendBinaryHeaders, type IncomingBinaryMessage } from '../messaging/binary-mode.js'
import type { Message } from '../messaging/envelope.js'
import { F } from './keys.js'

/** A stream entry's fields, as Redis returns them: [name, value, name, value…]. */
export type Fields = Record<string, string>

export function fieldsOf(flat: readonly string[]): Fields {
  const fields: Fields = {}
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string
  return fields
}

export function flatten(fields: Fields): string[] {
  return Object.entries(fields).flat()
}

/**
 * The arguments of the XADD of one message, its fields built straight from the message (once per
 * message published): the attributes as `ce_` fields, then the data, then its content type.
 */
export function xaddArgs(stream: string, maxLength: string, message: Message, json: string): string[] {
  // Approximate trimming: cheap, and the bound is what keeps memory finite (see `maxLength`).
  const args = [stream, 'MAXLEN', '~', maxLength, '*']
  appendBinaryHeaders(message, 'kafka', args)
  args.push(F.data, json, F.contentType, 'application/json')
  return args
}

/**
 * The entry as a delivery, its fields passed whole as headers: decoding reads only the `ce_`
 * ones, and copying the rest out (as `toIncoming` does) cost an object per delivery.
 */
export function incomingOf(fields: Fields): IncomingBinaryMessage {
  return { headers: fields, contentType: fields[F.contentType], body: fields[F.data] ?? '' }
}

/** The entry as a message whose headers are its headers only, for a dead letter's record of it. */
export function toIncoming(fields: Fields): IncomingBinaryMessage {
  const { [F.data]: data, [F.contentType]: contentType, ...headers } = fields
  return { headers, contentType, body: data ?? '' }
}
