import { shardOf } from '../messaging/shard.js'

/** Streams, subjects and consumers of one namespace (`prefix`). */
export class Names {
  constructor(
    readonly prefix: string,
    readonly shards: number,
  ) {}

  get eventsStream(): string {
    return `${this.prefix}_events`
  }

  get deadStream(): string {
    return `${this.prefix}_dead`
  }

  /** One subject tree per shard: a consumer filters on exactly one (NATS 2.9 checks filters against the stream's subjects literally). */
  get eventSubjects(): string[] {
    return Array.from({ length: this.shards }, (_, shard) => `${this.prefix}.s${shard}.>`)
  }

  shardFilter(shard: number): string {
    return `${this.prefix}.s${shard}.>`
  }

  /** The type travels in a header: a subject token cannot hold every string a type may be. */
  eventSubject(shard: number): string {
    return `${this.prefix}.s${shard}.ev`
  }

  /** A replayed dead letter goes to its shard for one group only; other groups skip it. */
  replaySubject(shard: number, group: string): string {
    return `${this.prefix}.s${shard}.replay.${group}`
  }

  deadSubject(group: string): string {
    return `${this.prefix}.dead.${group}`
  }

  /** Key-value bucket of the shard leases and member records (the bucket's stream is `KV_<bucket>`). */
  get leaseBucket(): string {
    return `${this.prefix}_leases`
  }

  /** Who consumes a shard for a group. */
  leaseKey(group: string, shard: number): string {
    return `${group}.s${shard}`
  }

  /** Live members of a group. */
  membersKey(group: string): string {
    return `${group}.members`
  }

  durable(group: string, shard: number): string {
    return `${group}_s${shard}`
  }

  shardOf(key: string): number {
    return shardOf(key, this.shards)
  }
}

/** Headers eventfold adds beside the CloudEvents `ce-` ones. */
export const H = {
  replayGroup: 'eventfold-replay-group',
  error: 'eventfold-error',
  attempts: 'eventfold-attempts',
  origin: 'eventfold-origin',
  deadAt: 'eventfold-dead-at',
  deadLetterId: 'eventfold-dead-letter-id',
  type: 'ce-type',
  id: 'ce-id',
  partitionKey: 'ce-partitionkey',
  contentType: 'content-type',
} as const
