import { shardOf } from '../messaging/shard.js'

/** Every key of one namespace (`prefix`). */
export class Keys {
  constructor(
    readonly prefix: string,
    readonly shards: number,
  ) {}

  /** One stream per shard, shared by every group (each reads it through its own consumer group). */
  shardStream(shard: number): string {
    return `${this.prefix}:s${shard}`
  }

  deadStream(group: string): string {
    return `${this.prefix}:${group}:dead`
  }

  /** Who reads a shard for a group: a key holding the member's id, with a TTL it renews. */
  lease(group: string, shard: number): string {
    return `${this.prefix}:${group}:lease:${shard}`
  }

  /** Members of a group: a sorted set scored by when each member's heartbeat runs out. */
  members(group: string): string {
    return `${this.prefix}:${group}:members`
  }

  shardOf(key: string): number {
    return shardOf(key, this.shards)
  }
}

/** Fields of a stream entry beside the `ce_` attributes (the Kafka-style binding, which Redis lacks of its own). */
export const F = {
  data: 'data',
  contentType: 'content-type',
  partitionKey: 'ce_partitionkey',
  type: 'ce_type',
  id: 'ce_id',
  /** On a replayed dead letter: the one group it is for (the shard streams are read by every group). */
  replayGroup: 'eventfold-replay-group',
} as const

/** Fields of a dead-letter entry. */
export const D = {
  id: 'id',
  fields: 'fields',
  error: 'error',
  attempts: 'attempts',
  origin: 'origin',
  deadAt: 'dead-at',
} as const
