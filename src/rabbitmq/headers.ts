import type { IncomingBinaryMessage } from '../messaging/binary-mode.js'

/** Headers eventfold adds beside the CloudEvents attributes; a foreign consumer can ignore them. */
export const H = {
  attempt: 'x-eventfold-attempt',
  // Not `x-`: a headers exchange ignores `x-` arguments when matching.
  returnTo: 'eventfold-return-to',
  error: 'x-eventfold-error',
  attempts: 'x-eventfold-attempts',
  origin: 'x-eventfold-origin',
  deadAt: 'x-eventfold-dead-at',
  deadLetterId: 'x-eventfold-dead-letter-id',
  /** Set by quorum queues on a redelivery. */
  deliveryCount: 'x-delivery-count',
  partitionKey: 'cloudEvents_partitionkey',
  id: 'cloudEvents_id',
} as const

export interface AmqpMessageLike {
  content: Buffer
  properties: { headers?: Record<string, unknown> | undefined; contentType?: string | undefined }
}

export function toIncoming(message: AmqpMessageLike): IncomingBinaryMessage {
  return { headers: message.properties.headers ?? {}, contentType: message.properties.contentType, body: message.content }
}

export function headerString(message: AmqpMessageLike, name: string): string | undefined {
  const value = message.properties.headers?.[name]
  if (typeof value === 'string') return value
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8')
  return undefined
}

export function headerNumber(message: AmqpMessageLike, name: string): number | undefined {
  const value = message.properties.headers?.[name]
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN
  return Number.isFinite(n) ? n : undefined
}

/** The message's own headers, without what eventfold and the broker added on the way. */
export function originalHeaders(message: AmqpMessageLike): Record<string, unknown> {
  const headers: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(message.properties.headers ?? {})) {
    if (!name.startsWith('x-') && name !== H.returnTo) headers[name] = value
  }
  return headers
}
