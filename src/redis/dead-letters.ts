import type { Redis } from 'ioredis'
import { decodeBinary } from '../messaging/binary-mode.js'
import { type Outcome, rawOf } from '../messaging/delivery.js'
import { DeadLetterNotFoundError } from '../messaging/errors.js'
import type { DeadLetter, DeadLetterQueue } from '../messaging/types.js'
import { D, F, type Keys } from './keys.js'
import { type Fields, fieldsOf, flatten, toIncoming } from './wire.js'

interface Stored {
  entryId: string
  letter: DeadLetter
  fields: Fields
}

/** Dead letters of a group are entries of its stream `<prefix>:<group>:dead`, the message's fields kept whole. */
export class RedisDeadLetters implements DeadLetterQueue {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async add(group: string, fields: Fields, outcome: Extract<Outcome, { kind: 'dead' }>, origin: string): Promise<void> {
    const entry = {
      [D.id]: outcome.message?.id ?? crypto.randomUUID(),
      [D.fields]: JSON.stringify(fields),
      [D.error]: JSON.stringify(outcome.error),
      [D.attempts]: String(outcome.attempts),
      [D.origin]: origin,
      [D.deadAt]: new Date().toISOString(),
    }
    await this.redis.xadd(this.keys.deadStream(group), '*', ...flatten(entry))
  }

  async list(group: string, options: { limit?: number } = {}): Promise<DeadLetter[]> {
    const all = await this.#read(group)
    return all.slice(0, options.limit ?? all.length).map((s) => s.letter)
  }

  async replay(group: string, ids: readonly string[]): Promise<void> {
    for (const stored of pick(await this.#read(group), ids)) {
      // Back into its key's shard, so it keeps its place in the key's order; other groups skip it.
      const key = stored.fields[F.partitionKey] ?? stored.letter.id
      const fields = { ...stored.fields, [F.replayGroup]: group }
      await this.redis
        .multi()
        .xadd(this.keys.shardStream(this.keys.shardOf(key)), '*', ...flatten(fields))
        .xdel(this.keys.deadStream(group), stored.entryId)
        .exec()
    }
  }

  async discard(group: string, ids: readonly string[]): Promise<void> {
    for (const stored of pick(await this.#read(group), ids)) await this.redis.xdel(this.keys.deadStream(group), stored.entryId)
  }

  async #read(group: string): Promise<Stored[]> {
    const entries = (await this.redis.xrange(this.keys.deadStream(group), '-', '+')) as [string, string[]][]
    return entries.map(([entryId, flat]) => {
      const record = fieldsOf(flat)
      const fields = JSON.parse(record[D.fields] ?? '{}') as Fields
      return { entryId, fields, letter: toDeadLetter(group, record, fields) }
    })
  }
}

function pick(all: Stored[], ids: readonly string[]): Stored[] {
  return ids.map((id) => {
    const found = all.find((s) => s.letter.id === id)
    if (found === undefined) throw new DeadLetterNotFoundError(id)
    return found
  })
}

function toDeadLetter(group: string, record: Fields, fields: Fields): DeadLetter {
  const base = {
    id: record[D.id] ?? 'unknown',
    group,
    error: JSON.parse(record[D.error] ?? '{"message":"unknown"}'),
    attempts: Number(record[D.attempts] ?? 1),
    origin: record[D.origin] ?? 'unknown',
    deadLetteredAt: new Date(record[D.deadAt] ?? 0),
  }
  const incoming = toIncoming(fields)
  try {
    return { ...base, message: decodeBinary(incoming, 'kafka') }
  } catch {
    return { ...base, raw: rawOf(incoming) }
  }
}
