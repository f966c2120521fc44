import { randomFillSync } from 'node:crypto'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value)

const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
// Random bytes are drawn in blocks: one syscall per 256 ids instead of one per id.
const pool = new Uint8Array(16 * 256)
let poolOffset = pool.length

/** RFC 9562 UUIDv7: 48 bits of Unix milliseconds, then randomness, so ids sort by creation time. */
export function uuidv7(now = Date.now()): string {
  if (poolOffset === pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const b = pool.subarray(poolOffset, poolOffset + 16)
  poolOffset += 16
  // Plain numbers hold 48 bits exactly; BigInt shifts cost more than the rest of the id.
  const high = Math.floor(now / 0x1000000)
  b[0] = high / 0x10000
  b[1] = high / 0x100
  b[2] = high
  b[3] = now / 0x10000
  b[4] = now / 0x100
  b[5] = now
  b[6] = ((b[6] as number) & 0x0f) | 0x70
  b[8] = ((b[8] as number) & 0x3f) | 0x80
  let s = ''
  for (let i = 0; i < 16; i++) {
    s += hex[b[i] as number]
    if (i === 3 || i === 5 || i === 7 || i === 9) s += '-'
  }
  return s
}
