import { Redis } from 'ioredis'
import { afterAll, expect, it } from 'vitest'
import { createRedisTransport } from '../../src/redis/index.js'
import { Keys } from '../../src/redis/keys.js'
import { sleep, unique, waitFor } from '../messaging/conformance/helpers.js'
import { REDIS_URL } from '../messaging/conformance/transports.js'
import { deleteKeys, killConnections } from './admin.js'

const prefix = `member-${unique()}`
const admin = new Redis(REDIS_URL)
const transport = await createRedisTransport({ url: REDIS_URL, prefix, shards: 2, leaseMs: 1_500, rebalanceIntervalMs: 50 })
const keys = new Keys(prefix, 2)

afterAll(async () => {
  await transport.close()
  await deleteKeys(admin, prefix)
  await admin.quit()
})

/** A partition key of each shard. */
function keyOf(shard: number): string {
  for (let i = 0; ; i++) if (keys.shardOf(`k${i}`) === shard) return `k${i}`
}

it('stops reading a shard whose lease another member took, and takes it back once it is free', async () => {
  const seen: string[] = []
  const consumer = await transport.subscribe({ group: 'g', handler: (m) => void seen.push(m.partitionKey as string) })
  const lease = keys.lease('g', 0)
  await waitFor('both leases held', async () => (await admin.exists(lease, keys.lease('g', 1))) === 2)
  // As if this member had stalled past its lease and another took the shard over.
  await admin.set(lease, 'someone-else', 'PX', 60_000)
  await sleep(300)
  await transport.publish([{ type: 'T', data: 0, partitionKey: keyOf(0) }])
  await transport.publish([{ type: 'T', data: 1, partitionKey: keyOf(1) }])
  await waitFor('the other shard still read', () => seen.includes(keyOf(1)))
  await sleep(300)
  expect(seen).not.toContain(keyOf(0))
  expect(await admin.get(lease)).toBe('someone-else')

  await admin.del(lease)
  await waitFor('the shard taken back and read', () => seen.includes(keyOf(0)))
  expect(await admin.get(lease)).not.toBe('someone-else')
  await consumer.stop()
})

it('beats in the turn after a delivery while messages come, not on a timer of its own', async () => {
  const group = 'beat-after'
  let handledAt = 0
  const consumer = await transport.subscribe({
    group,
    handler: () => {
      handledAt = performance.now()
    },
  })
  await waitFor('both leases held', async () => (await admin.exists(keys.lease(group, 0), keys.lease(group, 1))) === 2)
  // The transport's connection, where a beat goes out: each beat's distance from the last handler run.
  const redis = (transport as unknown as { redis: Redis }).redis
  const gaps: number[] = []
  const send = redis.sendCommand
  redis.sendCommand = function (this: Redis, command, ...rest) {
    if (command.name === 'eval' && String(command.args[0]).startsWith("redis.call('zadd'"))
      gaps.push(performance.now() - handledAt)
    return send.call(this, command, ...rest)
  }
  try {
    // A producer on a clock, every 10 ms; beats are due every 50 ms.
    for (let i = 0; i < 100; i++) {
      await transport.publish([{ type: 'T', data: i, partitionKey: keyOf(i % 2) }])
      await sleep(10)
    }
  } finally {
    redis.sendCommand = send
  }
  expect(gaps.length).toBeGreaterThan(5)
  // On a timer of their own, beats fell anywhere in the 10 ms between messages (a median near 5 ms).
  expect(gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)]).toBeLessThan(2)
  await consumer.stop()
})

it('lets go of a shard whose leftovers it could not take over, and reads it once it can', async () => {
  const group = 'adopt'
  const seen: string[] = []
  const consumer = await transport.subscribe({ group, handler: (m) => void seen.push(m.partitionKey as string) })
  const lease = keys.lease(group, 0)
  await waitFor('both leases held', async () => (await admin.exists(lease, keys.lease(group, 1))) === 2)
  await admin.set(lease, 'someone-else', 'PX', 60_000)
  await sleep(300)
  // XAUTOCLAIM fails on a stream without the group: the next take-over of shard 0 fails.
  await admin.xgroup('DESTROY', keys.shardStream(0), group)
  await admin.del(lease)
  await sleep(500)
  await admin.xgroup('CREATE', keys.shardStream(0), group, '$')
  await transport.publish([{ type: 'T', data: 0, partitionKey: keyOf(0) }])
  await transport.publish([{ type: 'T', data: 1, partitionKey: keyOf(1) }])
  await waitFor('both shards read', () => seen.includes(keyOf(0)) && seen.includes(keyOf(1)))
  await consumer.stop()
})

it('handles the entries of a read whose reply its cut connection lost, in order, before any later one', async () => {
  const group = 'lost-reply'
  const seen: string[] = []
  const consumer = await transport.subscribe({ group, handler: (m) => void seen.push(m.id) })
  const stream = keys.shardStream(0)
  const { ids: first } = await transport.publish([{ type: 'T', data: 0, partitionKey: keyOf(0) }])
  await waitFor('the first message handled', () => seen.includes(first[0] as string))
  const [[, member]] = (await admin.xinfo('CONSUMERS', stream, group)) as [[string, string]]
  const [[, fields]] = (await admin.xrange(stream, '-', '+', 'COUNT', 1)) as [[string, string[]]]
  const withId = (id: string) => fields.flatMap((value, i) => (i % 2 === 1 && fields[i - 1] === 'ce_id' ? [id] : [value]))
  // As a read whose reply never arrived: in one transaction, entries are added and read in the
  // member's name, so they are pending to it while its own blocked read is not served them.
  const lost = ['lost-1', 'lost-2']
  const tx = admin.multi()
  for (const id of lost) tx.xadd(stream, '*', ...withId(id))
  tx.xreadgroup('GROUP', group, member, 'COUNT', 10, 'STREAMS', stream, '>')
  await tx.exec()
  await sleep(100)
  expect(seen).not.toContain('lost-1')
  // The connection goes, and the member's read with it, as when the reply was lost.
  await killConnections(admin, prefix)
  const { ids: later } = await transport.publish([{ type: 'T', data: 1, partitionKey: keyOf(0) }])
  await waitFor('the later message handled', () => seen.includes(later[0] as string))
  expect(seen).toEqual([first[0], ...lost, later[0]])
  await consumer.stop()
})

it('reads ahead of its handlers, but no further than its read-ahead allows', async () => {
  const group = 'bounded'
  const release: (() => void)[] = []
  let started = 0
  // Concurrency 2: a read-ahead of 8 entries, and a read takes up to 8 from each of the 2 streams.
  const consumer = await transport.subscribe({
    group,
    concurrency: 2,
    handler: () => {
      started++
      return new Promise<void>((resolve) => release.push(resolve))
    },
  })
  await transport.publish(Array.from({ length: 200 }, (_, i) => ({ type: 'T', data: i, partitionKey: `p${i}` })))
  await waitFor('both handlers busy', () => started === 2)
  await sleep(300)
  const pending = async () =>
    ((await admin.xpending(keys.shardStream(0), group)) as [number])[0] +
    ((await admin.xpending(keys.shardStream(1), group)) as [number])[0]
  const held = await pending()
  // Read ahead: more than the two running…
  expect(held).toBeGreaterThan(2)
  // …but bounded: what waits stays under the read-ahead until the next read, which adds at most 8 per stream.
  expect(held).toBeLessThanOrEqual(2 + 8 + 2 * 8)
  expect(started).toBe(2)
  while (release.length > 0) release.shift()?.()
  await consumer.stop({ timeoutMs: 100 })
})
