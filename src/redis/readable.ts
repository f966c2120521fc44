import type { Keys } from './keys.js'

/**
 * The shards a member may read new entries of, with their stream names built once per change
 * rather than on every read (a read per message at low rates).
 */
export class ReadableShards {
  #shards = new Set<number>()
  #current: { shards: readonly number[]; streams: readonly string[] } | undefined

  constructor(private readonly keys: Keys) {}

  has(shard: number): boolean {
    return this.#shards.has(shard)
  }

  add(shard: number): void {
    this.#shards.add(shard)
    this.#current = undefined
  }

  delete(shard: number): void {
    if (this.#shards.delete(shard)) this.#current = undefined
  }

  clear(): void {
    this.#shards.clear()
    this.#current = undefined
  }

  /** The shards now, and their streams in the same order; the same arrays until the next change. */
  current(): { shards: readonly number[]; streams: readonly string[] } {
    if (this.#current === undefined) {
      const shards = [...this.#shards]
      this.#current = { shards, streams: shards.map((s) => this.keys.shardStream(s)) }
    }
    return this.#current
  }
}
