/**
 * The partition of a stream: FNV-1a over the id's UTF-8 bytes. Stable across processes and
 * versions (it decides who owns which stream), so it must never change.
 */
export function partitionOf(streamId: string, partitions: number): number {
  if (partitions === 1) return 0
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(streamId, 'utf8')) {
    hash ^= byte
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash % partitions
}

/** The partitions a member should hold: every n-th, by its rank among the live members. */
export function shareOf(member: string, members: readonly string[], partitions: number): number[] {
  const rank = members.indexOf(member)
  if (rank < 0) return []
  return Array.from({ length: partitions }, (_, p) => p).filter((p) => p % members.length === rank)
}
