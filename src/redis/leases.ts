import type { Redis } from 'ioredis'

// Compare-and-act in Lua: between a GET and a PEXPIRE or DEL another member could have taken the lease.
// Each takes every lease of a beat in one round trip: one call per shard made a beat 16 round trips
// in a row on the connection that publishes and acknowledges.
const RENEW = `local kept = {}
for i, key in ipairs(KEYS) do
  kept[i] = 0
  if redis.call('get', key) == ARGV[1] then kept[i] = redis.call('pexpire', key, ARGV[2]) end
end
return kept`
// Tries the keys in the order given and stops once it holds ARGV[3] more: which shards a member
// takes depends on its offset, so members do not all contend for the same ones.
const CLAIM = `local taken = {}
for i, key in ipairs(KEYS) do
  if #taken >= tonumber(ARGV[3]) then break end
  if redis.call('set', key, ARGV[1], 'PX', ARGV[2], 'NX') then taken[#taken + 1] = i end
end
return taken`
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`

/** Takes up to `max` of these leases that are free, trying them in order; the indexes of those taken. */
export async function claimLeases(
  redis: Redis,
  keys: readonly string[],
  owner: string,
  ttlMs: number,
  max: number,
): Promise<number[]> {
  if (keys.length === 0 || max <= 0) return []
  const taken = (await redis.eval(CLAIM, keys.length, ...keys, owner, String(ttlMs), String(max))) as number[]
  return taken.map((i) => i - 1)
}

/** Extends each lease still ours; false for one that ran out and maybe went to another member. */
export async function renewLeases(redis: Redis, keys: readonly string[], owner: string, ttlMs: number): Promise<boolean[]> {
  if (keys.length === 0) return []
  const kept = (await redis.eval(RENEW, keys.length, ...keys, owner, String(ttlMs))) as number[]
  return kept.map((k) => k === 1)
}

export async function releaseLease(redis: Redis, key: string, owner: string): Promise<void> {
  await redis.eval(RELEASE, 1, key, owner)
}

/** Records this member as alive until `ttlMs` from now, forgets the dead, and returns how many are alive. */
export async function heartbeat(redis: Redis, key: string, member: string, ttlMs: number): Promise<number> {
  const now = Date.now()
  const results = await redis
    .multi()
    .zadd(key, now + ttlMs, member)
    .zremrangebyscore(key, '-inf', now)
    .zcard(key)
    .exec()
  const count = results?.[2]?.[1]
  return typeof count === 'number' && count > 0 ? count : 1
}

export async function leave(redis: Redis, key: string, member: string): Promise<void> {
  await redis.zrem(key, member)
}
