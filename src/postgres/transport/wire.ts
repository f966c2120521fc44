import { encodeBinaryJson, type IncomingBinaryMessage } from '../../messaging/binary-mode.js'
import type { Message } from '../../messaging/envelope.js'
import type { StoredWire } from './sql.js'

/** The binding whose header names the rows carry: Kafka-style `ce_` headers, as the in-memory transport uses. */
export const BINDING = 'kafka'

/** `json` is the data as JSON text, when the caller has it already (`createMessageWithJson`). */
export function toStoredWire(message: Message, json = JSON.stringify(message.data)): StoredWire {
  const { headers, contentType, body } = encodeBinaryJson(message, BINDING, json)
  return {
    id: message.id,
    type: message.type,
    partitionKey: message.partitionKey,
    headers: JSON.stringify(headers),
    contentType,
    body,
  }
}

/** What a message costs in the table, as `maxMessageBytes` counts it: headers and body. */
export const storedSize = (wire: StoredWire): number =>
  Buffer.byteLength(wire.headers) + wire.body.length + Buffer.byteLength(wire.contentType ?? '')

/** A row back into what `handleDelivery` decodes. The body comes hex-encoded: the adapter reads every column as text. */
export function fromRow(row: { headers: string; content_type: string | null; body: string }): IncomingBinaryMessage {
  return {
    headers: JSON.parse(row.headers) as Record<string, unknown>,
    contentType: row.content_type ?? undefined,
    body: Buffer.from(row.body, 'hex'),
  }
}
