import type { BinaryMessage, IncomingBinaryMessage } from '../messaging/binary-mode.js'
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

export function toFields(message: BinaryMessage): Fields {
  const fields: Fields = { ...message.headers, [F.data]: message.body.toString('utf8') }
  if (message.contentType !== undefined) fields[F.contentType] = message.contentType
  return fields
}

export function toIncoming(fields: Fields): IncomingBinaryMessage {
  const { [F.data]: data, [F.contentType]: contentType, ...headers } = fields
  return { headers, contentType, body: data ?? '' }
}
