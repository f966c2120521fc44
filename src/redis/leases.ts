import type { Redis } from 'ioredis'
import { encodedCommand, send } from './resp.js'

// Compare-and-act in Lua: between a GET and a PEXPIRE or DEL another member could have taken the lease.
// Each takes every lease of a beat in one round trip: one call per shard made a beat 16 round trips
// in a row on the connection that publishes and acknowledges. The heartbeat goes with the renewals:
// apart, they were two commands (the heartbeat a transaction) and two replies four times a second.
const BEAT = `redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[3])
local result = {redis.call('zcard', KEYS[1])}
for i = 2, #KEYS do
  result[i] = 0
  if redis.call('get', KEYS[i]) == ARGV[1] then result[i] = redis.call('pexpire', KEYS[i], ARGV[4]) end
end
return result`
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

/**
 * Records `owner` as alive until `memberTtlMs` from now, forgets the dead members, and extends each
 * of these leases still its own (a renewal never takes a free lease): how many members are alive,
 * and for each lease whether it was kept (false for one that ran out and maybe went to another member).
 */
export async function beat(
  redis: Redis,
  membersKey: string,
  leaseKeys: readonly string[],
  owner: string,
  leaseTtlMs: number,
  memberTtlMs: number,
): Promise<{ members: number; kept: boolean[] }> {
  const now = Date.now()
  const keys = [membersKey, ...leaseKeys]
  const command = encodedCommand('eval', [
    BEAT,
    String(keys.length),
    ...keys,
    owner,
    String(now + memberTtlMs),
    String(now),
    String(leaseTtlMs),
  ])
  const [members = 0, ...kept] = (await send(redis, command)) as number[]
  return { members: members > 0 ? members : 1, kept: kept.map((k) => k === 1) }
}

export async function releaseLease(redis: Redis, key: string, owner: string): Promise<void> {
  await redis.eval(RELEASE, 1, key, owner)
}

export async function leave(redis: Redis, key: string, member: string): Promise<void> {
  await redis.zrem(key, member)
}
