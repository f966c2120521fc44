import { createHash } from 'node:crypto'

/**
 * The id of the `index`-th event a command appends to a stream: a name-based UUID (version 8, from
 * SHA-256), so every handling of the same command id produces the same event ids, in any process,
 * after any restart. The store's unique event ids then make a second handling collide with the first.
 */
export function commandEventId(commandId: string, streamId: string, index: number): string {
  return nameBasedUuid(['eventfold/command', streamId, commandId, index])
}

/** A UUID version 8 from SHA-256 of the parts: the same parts give the same id, anywhere. */
export function nameBasedUuid(parts: readonly (string | number)[]): string {
  // A JSON array keeps the parts apart: no choice of values can make two different lists hash alike.
  const hex = createHash('sha256').update(JSON.stringify(parts)).digest('hex')
  const variant = ((Number.parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(18, 20)}-${hex.slice(20, 32)}`
}
