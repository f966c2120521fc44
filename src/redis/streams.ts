import type { Redis } from 'ioredis'
import { EncodedCommand, encodeCommand, send } from './resp.js'
import { type Fields, fieldsOf } from './wire.js'

export interface ReadEntry {
  id: string
  fields: Fields
  /** Times the group delivered it, this time included. */
  deliveries: number
}

/** Creates the group at the stream's end (a group gets what is published after it first subscribed). */
export async function ensureGroup(redis: Redis, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, '$', 'MKSTREAM')
  } catch (error) {
    if (!String((error as Error).message).includes('BUSYGROUP')) throw error
  }
}

type RawEntry = [string, string[] | null]

/**
 * Takes over every entry of the group pending for at least `minIdleMs`, oldest first, with how
 * often each was delivered (XAUTOCLAIM does not say; XPENDING does).
 */
export async function claimPending(
  redis: Redis,
  stream: string,
  group: string,
  me: string,
  minIdleMs: number,
): Promise<ReadEntry[]> {
  const claimed: RawEntry[] = []
  let cursor = '0-0'
  do {
    const [next, entries] = (await redis.xautoclaim(stream, group, me, minIdleMs, cursor, 'COUNT', 100)) as [string, RawEntry[]]
    claimed.push(...entries)
    cursor = next
  } while (cursor !== '0-0')
  // Entries deleted meanwhile come back without fields; Redis has already dropped them from the pending list.
  const live = claimed.filter((e): e is [string, string[]] => e[1] !== null)
  if (live.length === 0) return []
  const entries = live.map(([id, flat]) => ({ id, fields: fieldsOf(flat), deliveries: 1 }))
  await countDeliveries(redis, stream, group, me, entries)
  return entries
}

/** Sets each entry's delivery count as XPENDING has it for `me` (reads and claims do not say). */
async function countDeliveries(redis: Redis, stream: string, group: string, me: string, entries: ReadEntry[]): Promise<void> {
  // Slack for entries deleted meanwhile, which stay pending but come back without fields.
  const limit = entries.length * 2 + 10
  const pending = (await redis.xpending(stream, group, '-', '+', limit, me)) as [string, string, number, number][]
  const deliveries = new Map(pending.map(([id, , , count]) => [id, count]))
  for (const entry of entries) entry.deliveries = deliveries.get(entry.id) ?? 1
}

/**
 * The read of entries never delivered to the group, blocking up to half a second: made for one set
 * of streams and sent again for every read until the set changes, its bytes encoded once (a
 * read per message at low rates, 40 arguments with the default 16 shards).
 */
export class NewEntriesRead {
  readonly #args: string[]
  readonly #bytes: Buffer

  constructor(
    readonly streams: readonly string[],
    group: string,
    me: string,
    count: number,
  ) {
    const ids = streams.map(() => '>')
    this.#args = ['GROUP', group, me, 'COUNT', String(count), 'BLOCK', '500', 'STREAMS', ...streams, ...ids]
    this.#bytes = encodeCommand('xreadgroup', this.#args)
  }

  /**
   * Sends the read; `take` gets what it brought while ioredis reads the reply, before the promise
   * settles. The promise is settled once `take` returned, and rejected if it threw.
   */
  send(redis: Redis, take: (read: [string, ReadEntry[]][]) => void): Promise<unknown> {
    return send(redis, new TakenRead(this.#args, this.#bytes, take))
  }
}

/**
 * A read whose entries are taken as its reply is read, not in a turn of the promise after it: at
 * low rates there is a read per message, and the turn (with everything the socket queued before
 * it) was on each message's way to its handler.
 */
class TakenRead extends EncodedCommand {
  constructor(
    args: string[],
    bytes: Buffer,
    private readonly take: (read: [string, ReadEntry[]][]) => void,
  ) {
    super('xreadgroup', args, bytes)
  }

  // ioredis calls this with each reply and resolves the promise with what it returns; a throw rejects it.
  override transformReply(reply: Buffer | Buffer[]): ReturnType<EncodedCommand['transformReply']> {
    const converted = super.transformReply(reply)
    this.take(entriesOf(converted))
    return converted
  }
}

/**
 * What the group has delivered to `me` and `me` has not acknowledged, oldest first per stream:
 * reading from id 0 instead of `>`. Delivery counts as XPENDING has them (this read adds none to them).
 */
export async function readOwnPending(
  redis: Redis,
  streams: readonly string[],
  group: string,
  me: string,
  count: number,
): Promise<[string, ReadEntry[]][]> {
  const ids = streams.map(() => '0')
  const read = entriesOf(await redis.xreadgroup('GROUP', group, me, 'COUNT', count, 'STREAMS', ...streams, ...ids))
  for (const [stream, entries] of read) if (entries.length > 0) await countDeliveries(redis, stream, group, me, entries)
  return read
}

function entriesOf(reply: unknown): [string, ReadEntry[]][] {
  const read: [string, ReadEntry[]][] = []
  for (const [stream, entries] of (reply ?? []) as [string, RawEntry[]][]) {
    const live: ReadEntry[] = []
    // As with XAUTOCLAIM: an entry without fields was deleted, and there is nothing to deliver.
    for (const [id, flat] of entries) if (flat !== null) live.push({ id, fields: fieldsOf(flat), deliveries: 1 })
    read.push([stream, live])
  }
  return read
}
