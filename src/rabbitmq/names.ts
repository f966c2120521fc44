import { shardOf } from '../messaging/shard.js'

/**
 * Every exchange and queue name of one namespace (`prefix`), in one place. Several services share
 * a namespace to talk; tests get a namespace each.
 */
export class Names {
  constructor(
    readonly prefix: string,
    readonly shards: number,
  ) {}

  /** Topic exchange everything is published to; routing key `s<shard>.<type>`. */
  get events(): string {
    return `${this.prefix}.events`
  }

  /** Direct exchange of dead letters; routing key = group. */
  get deadLetters(): string {
    return `${this.prefix}.dead-letters`
  }

  /** Headers exchange that takes expired retries back to the shard queue named in their header. */
  get redeliver(): string {
    return `${this.prefix}.redeliver`
  }

  routingKey(shard: number, type: string): string {
    return `s${shard}.${type}`
  }

  shardQueue(group: string, shard: number): string {
    return `${this.prefix}.${group}.s${shard}`
  }

  /** A classic queue whose one exclusive consumer is the lease on a shard. */
  lockQueue(group: string, shard: number): string {
    return `${this.prefix}.${group}.s${shard}.lock`
  }

  /** Every member consumes it (no message ever goes there): its consumer count is the group's size. */
  membersQueue(group: string): string {
    return `${this.prefix}.${group}.members`
  }

  deadQueue(group: string): string {
    return `${this.prefix}.${group}.dead`
  }

  delayQueue(delayMs: number): string {
    return `${this.prefix}.delay.${delayMs}`
  }

  shardOf(key: string): number {
    return shardOf(key, this.shards)
  }
}

/**
 * Retries wait in queues with one TTL each, so expiry order is queue order (per-message expiry on
 * one queue would let a long delay at the head hold back short ones behind it). Delays round up to
 * a grid of ~19% steps, keeping the number of delay queues small whatever the jitter draws.
 */
export function delayBucket(delayMs: number): number {
  if (delayMs <= 0) return 0
  let bucket = 10
  while (bucket < delayMs) bucket = Math.ceil(bucket * 2 ** 0.25)
  return bucket
}
