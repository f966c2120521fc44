import { createHash } from 'node:crypto'

/**
 * The id of the `index`-th event a command appends to a stream: a name-based UUID (version 8, from
 * SHA-256), so every handling of the same command id produces the same event ids, in any process,
 * after any restart. The store's unique event ids then make a second handling collide with the first.
 */
export function commandEventId(commandId: string, streamId: string, index: number): string {
  // A JSON array keeps the parts apart: no choice of ids can make two different triples hash alike.
  const hex = createHash('sha256')
    .update(JSON.stringify(['eventfold/command', streamId, commandId, index]))
    .digest('hex')
  const variant = ((Number.parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`
}
