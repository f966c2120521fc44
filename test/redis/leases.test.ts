import { Redis } from 'ioredis'
import { afterAll, expect, it } from 'vitest'
import { beat, claimLeases, releaseLease } from '../../src/redis/leases.js'
import { unique } from '../messaging/conformance/helpers.js'
import { REDIS_URL } from '../messaging/conformance/transports.js'
import { deleteKeys } from './admin.js'

const prefix = `leases-${unique()}`
const redis = new Redis(REDIS_URL)
const keys = (name: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}:${name}:${i}`)

afterAll(async () => {
  await deleteKeys(redis, prefix)
  await redis.quit()
})

it('claims free leases in the order given, no more than asked, skipping those another member holds', async () => {
  const leases = keys('claim', 5)
  await redis.set(leases[1] as string, 'other', 'PX', 10_000)
  expect(await claimLeases(redis, leases, 'me', 10_000, 3)).toEqual([0, 2, 3])
  expect(await redis.mget(...leases)).toEqual(['me', 'other', 'me', 'me', null])
  const ttl = await redis.pttl(leases[0] as string)
  expect(ttl).toBeGreaterThan(9_000)
  // Nothing free is left to a second member but the last one.
  expect(await claimLeases(redis, leases, 'second', 10_000, 5)).toEqual([4])
  expect(await claimLeases(redis, leases, 'third', 10_000, 0)).toEqual([])
})

it('beats in one call: counts the live members, forgets the dead, renews only the leases still ours and says which', async () => {
  const members = `${prefix}:members`
  const leases = keys('renew', 3)
  expect(await claimLeases(redis, leases, 'me', 200, 3)).toEqual([0, 1, 2])
  // One ran out and went to another member; one ran out and is free.
  await redis.set(leases[1] as string, 'other', 'PX', 10_000)
  await redis.del(leases[2] as string)
  // A live member and a dead one (its heartbeat ran out).
  await redis.zadd(members, Date.now() + 10_000, 'alive', Date.now() - 1, 'dead')
  expect(await beat(redis, members, leases, 'me', 10_000, 20_000)).toEqual({ members: 2, kept: [true, false, false] })
  expect(await redis.pttl(leases[0] as string)).toBeGreaterThan(9_000)
  expect(await redis.get(leases[1] as string)).toBe('other')
  // Renewing never takes a free lease.
  expect(await redis.exists(leases[2] as string)).toBe(0)
  expect(await redis.zrange(members, 0, -1)).toEqual(['alive', 'me'])
  expect(Number(await redis.zscore(members, 'me'))).toBeGreaterThan(Date.now() + 19_000)
  expect(await beat(redis, members, [], 'me', 10_000, 20_000)).toEqual({ members: 2, kept: [] })
})

it('releases a lease only if it is still ours', async () => {
  const [mine, theirs] = keys('release', 2) as [string, string]
  await claimLeases(redis, [mine], 'me', 10_000, 1)
  await redis.set(theirs, 'other', 'PX', 10_000)
  await releaseLease(redis, mine, 'me')
  await releaseLease(redis, theirs, 'me')
  expect(await redis.exists(mine)).toBe(0)
  expect(await redis.get(theirs)).toBe('other')
})
