import { Redis } from 'ioredis'
import { afterAll, expect, it, vi } from 'vitest'
import { isEventfoldError } from '../../src/index.js'
import { createRedisTransport } from '../../src/redis/index.js'
import { Keys } from '../../src/redis/keys.js'
import { unique } from '../messaging/conformance/helpers.js'
import { REDIS_URL } from '../messaging/conformance/transports.js'
import { deleteKeys } from './admin.js'

const prefix = `publish-${unique()}`
const admin = new Redis(REDIS_URL)
const transport = await createRedisTransport({ url: REDIS_URL, prefix, shards: 2 })
const keys = new Keys(prefix, 2)

afterAll(async () => {
  await transport.close()
  await deleteKeys(admin, prefix)
  await admin.quit()
})

it('publishes one message as a lone XADD, and a batch as one MULTI, each entry in its key’s shard', async () => {
  const multi = vi.spyOn(Redis.prototype, 'multi')
  await transport.publish([{ type: 'One', data: 1, partitionKey: 'a' }])
  expect(multi).not.toHaveBeenCalled()
  await transport.publish([
    { type: 'Two', data: 2, partitionKey: 'a' },
    { type: 'Three', data: 3, partitionKey: 'b' },
  ])
  expect(multi).toHaveBeenCalledTimes(1)
  multi.mockRestore()
  const types = async (key: string) =>
    ((await admin.xrange(keys.shardStream(keys.shardOf(key)), '-', '+')) as [string, string[]][]).map(
      ([, flat]) => flat[flat.indexOf('ce_type') + 1],
    )
  expect(await types('a')).toEqual(['One', 'Two'])
  expect(await types('b')).toContain('Three')
})

it('fails with TRANSPORT_UNAVAILABLE when Redis refuses the entry, one message or a batch', async () => {
  // The shard's key holds a string, not a stream: Redis answers WRONGTYPE.
  const broken = unique()
  await admin.set(keys.shardStream(keys.shardOf(broken)), 'not a stream')
  for (const messages of [
    [{ type: 'T', data: 1, partitionKey: broken }],
    [
      { type: 'T', data: 1, partitionKey: broken },
      { type: 'T', data: 2, partitionKey: broken },
    ],
  ]) {
    const error = await transport.publish(messages).catch((e: unknown) => e)
    expect(isEventfoldError(error, 'TRANSPORT_UNAVAILABLE')).toBe(true)
    expect(String((error as { cause?: Error }).cause?.message)).toContain('WRONGTYPE')
  }
  await admin.del(keys.shardStream(keys.shardOf(broken)))
})
