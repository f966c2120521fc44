/**
 * The shard of a partition key (FNV-1a, 32 bits): the same key lands in the same shard from every
 * publisher in every language that hashes the same, which is what per-key order rests on.
 */
export function shardOf(key: string, shards: number): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % shards
}
