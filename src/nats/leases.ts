import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import type { KV, KvEntry } from '@nats-io/kv'

/** A lease this member holds: the revision it last wrote, and until when (its own clock) it may trust it. */
export interface Lease {
  readonly key: string
  revision: number
  validUntil: number
}

const encode = (value: unknown) => JSON.stringify(value)

/**
 * Shard leases in a JetStream key-value bucket. Server 2.9 has no per-key TTL, and wall clocks of
 * two hosts disagree, so a lease carries no expiry time: its holder renews it by compare-and-set on
 * the revision, and another member takes it once it saw the same revision for a whole `leaseMs` on
 * its own clock. The holder trusts it until `leaseMs` after it *sent* its last successful write;
 * a contender counts from *receiving* a read, which is after that write: so the holder always gives
 * up before anyone may take over, whatever the clocks say, as long as they run at the same rate.
 */
export class LeaseBook {
  /** The revision of each lease held by another member, and when this member first saw it. */
  readonly #seen = new Map<string, { revision: number; at: number }>()

  constructor(
    private readonly kv: KV,
    private readonly owner: string,
    private readonly leaseMs: number,
  ) {}

  /** Takes the lease if free, released, or left unrenewed for `leaseMs`; undefined otherwise or if another member won the race. */
  async claim(key: string): Promise<Lease | undefined> {
    const entry = await this.kv.get(key)
    if (entry?.operation === 'PUT' && !this.#free(key, entry, performance.now())) return undefined
    const sentAt = performance.now()
    const value = encode({ owner: this.owner })
    const revision = await unlessConflict(
      entry?.operation === 'PUT' ? this.kv.update(key, value, entry.revision) : this.kv.create(key, value),
    )
    if (revision === undefined) return undefined
    this.#seen.delete(key)
    return { key, revision, validUntil: sentAt + this.leaseMs }
  }

  /**
   * True if still ours. False once another member wrote the lease, or once it ran out by our own
   * clock (renewals failed for a whole lease period): from then on someone else may hold it. Throws
   * when NATS did not answer and the lease has not run out yet: the caller tries again.
   */
  async renew(lease: Lease): Promise<boolean> {
    const sentAt = performance.now()
    if (sentAt > lease.validUntil) return false
    const revision = await unlessConflict(this.kv.update(lease.key, encode({ owner: this.owner }), lease.revision))
    if (revision === undefined) return false
    lease.revision = revision
    lease.validUntil = sentAt + this.leaseMs
    return true
  }

  /** Frees the lease at once, if it is still ours. */
  async release(lease: Lease): Promise<void> {
    lease.validUntil = 0
    await unlessConflict(this.kv.update(lease.key, encode({ owner: '' }), lease.revision))
  }

  #free(key: string, entry: KvEntry, now: number): boolean {
    const { owner } = entry.json<{ owner: string }>()
    // Our own: a renewal whose answer was lost after it was written.
    if (owner === '' || owner === this.owner) return true
    const seen = this.#seen.get(key)
    if (seen?.revision === entry.revision) return now - seen.at >= this.leaseMs
    this.#seen.set(key, { revision: entry.revision, at: now })
    return false
  }
}

/**
 * Records `member` as alive for `ttlMs` in one record per group and returns how many members are
 * alive. Wall clocks decide here, unlike for leases: a skew only makes a member count the group
 * wrong for a while, which moves shards, never lets two members consume one.
 * The record is read every time but written only once this member's time in it is half gone: a
 * write every beat was one more key-value write a second, and each write in flight holds up the
 * delivery it meets (about 0.3 ms).
 */
export async function heartbeat(kv: KV, key: string, member: string, ttlMs: number): Promise<number> {
  for (;;) {
    const entry = await kv.get(key)
    const now = Date.now()
    const alive = Object.fromEntries(Object.entries(membersOf(entry)).filter(([, until]) => until > now))
    if ((alive[member] ?? 0) - now > ttlMs / 2) return Object.keys(alive).length
    alive[member] = now + ttlMs
    const written = await unlessConflict(
      entry?.operation === 'PUT' ? kv.update(key, encode(alive), entry.revision) : kv.create(key, encode(alive)),
    )
    if (written !== undefined) return Object.keys(alive).length
  }
}

export async function leave(kv: KV, key: string, member: string): Promise<void> {
  for (;;) {
    const entry = await kv.get(key)
    const members = membersOf(entry)
    if (entry?.operation !== 'PUT' || !(member in members)) return
    delete members[member]
    if ((await unlessConflict(kv.update(key, encode(members), entry.revision))) !== undefined) return
  }
}

function membersOf(entry: KvEntry | null): Record<string, number> {
  return entry?.operation === 'PUT' ? entry.json<Record<string, number>>() : {}
}

/** The new revision, or undefined when another writer changed the key first (compare-and-set lost). */
async function unlessConflict(write: Promise<number>): Promise<number | undefined> {
  try {
    return await write
  } catch (error) {
    const conflict =
      error instanceof JetStreamApiError &&
      (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
        error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
    if (conflict) return undefined
    throw error
  }
}
