import { Redis } from 'ioredis'
import { afterAll, expect, it, vi } from 'vitest'
import { AckBatcher } from '../../src/redis/acks.js'
import { unique } from '../messaging/conformance/helpers.js'
import { REDIS_URL } from '../messaging/conformance/transports.js'

const prefix = `acks-${unique()}`
const redis = new Redis(REDIS_URL)

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`)
  if (keys.length > 0) await redis.del(...keys)
  await redis.quit()
})

/** A stream with `count` entries read (so pending) by consumer `c` of group `g`; their ids. */
async function pendingEntries(stream: string, count: number): Promise<string[]> {
  await redis.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM')
  for (let i = 0; i < count; i++) await redis.xadd(stream, '*', 'n', String(i))
  const reply = (await redis.xreadgroup('GROUP', 'g', 'c', 'COUNT', count, 'STREAMS', stream, '>')) as [
    string,
    [string, string[]][],
  ][]
  return (reply[0]?.[1] ?? []).map(([id]) => id)
}

const pendingCount = async (stream: string) => ((await redis.xpending(stream, 'g')) as [number])[0]

it('acknowledges what settles in one turn with one XACK per stream, and resolves each only after Redis took it', async () => {
  const a = `${prefix}:a`
  const b = `${prefix}:b`
  const idsA = await pendingEntries(a, 5)
  const idsB = await pendingEntries(b, 3)
  const xack = vi.spyOn(redis, 'xack')
  const batcher = new AckBatcher(redis, 'g')
  const acks = [...idsA.map((id) => batcher.ack(a, id)), ...idsB.map((id) => batcher.ack(b, id))]
  // Nothing is sent before the turn ends, so nothing can count as acknowledged yet.
  expect(xack).not.toHaveBeenCalled()
  await Promise.all(acks)
  expect(xack).toHaveBeenCalledTimes(2)
  expect(xack.mock.calls.map((call) => call.slice(0, 2))).toEqual([
    [a, 'g'],
    [b, 'g'],
  ])
  expect(await pendingCount(a)).toBe(0)
  expect(await pendingCount(b)).toBe(0)

  // A later turn is a new batch.
  const [late] = await pendingEntries(`${prefix}:c`, 1)
  await batcher.ack(`${prefix}:c`, late as string)
  expect(xack).toHaveBeenCalledTimes(3)
  xack.mockRestore()
})

it('rejects every acknowledgement of a batch Redis did not take, leaving the entries pending', async () => {
  const stream = `${prefix}:failed`
  const ids = await pendingEntries(stream, 4)
  const broken = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false })
  const batcher = new AckBatcher(broken, 'g')
  const results = await Promise.allSettled(ids.map((id) => batcher.ack(stream, id)))
  expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected'])
  expect(await pendingCount(stream)).toBe(4)
  broken.disconnect()
})

it('settles once every acknowledgement asked for so far was answered, without the callers waiting', async () => {
  const stream = `${prefix}:settled`
  const ids = await pendingEntries(stream, 3)
  const batcher = new AckBatcher(redis, 'g')
  for (const id of ids) void batcher.ack(stream, id)
  await batcher.settled()
  expect(await pendingCount(stream)).toBe(0)
  // Nothing asked for: settled at once.
  await batcher.settled()
})
