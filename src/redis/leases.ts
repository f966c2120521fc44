import type { Redis } from 'ioredis'

// Compare-and-act in Lua: between a GET and a DEL another member could have taken the lease.
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`

/** Takes the lease if free. */
export async function claimLease(redis: Redis, key: string, owner: string, ttlMs: number): Promise<boolean> {
  return (await redis.set(key, owner, 'PX', ttlMs, 'NX')) === 'OK'
}

/** Extends the lease if still ours; false when it ran out and maybe went to another member. */
export async function renewLease(redis: Redis, key: string, owner: string, ttlMs: number): Promise<boolean> {
  return (await redis.eval(RENEW, 1, key, owner, String(ttlMs))) === 1
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
