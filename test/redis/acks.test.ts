import { Redis } from 'ioredis'
import { afterAll, expect, it, vi } from 'vitest'
import { AckBatcher } from '../../src/redis/acks.js'
import { unique, waitFor } from '../messaging/conformance/helpers.js'
import { REDIS_URL } from '../messaging/conformance/transports.js'
import { deleteKeys } from './admin.js'

const prefix = `acks-${unique()}`
const redis = new Redis(REDIS_URL)

afterAll(async () => {
  await deleteKeys(redis, prefix)
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

const noFailure = () => {
  throw new Error('no acknowledgement should fail here')
}

it('acknowledges what settles in one turn with one XACK per stream, all in one pipeline, and settles only after Redis took them', async () => {
  const a = `${prefix}:a`
  const b = `${prefix}:b`
  const idsA = await pendingEntries(a, 5)
  const idsB = await pendingEntries(b, 3)
  // What the server received, in order, from a connection of its own in MONITOR mode.
  const watcher = new Redis(REDIS_URL)
  const monitor = await watcher.monitor()
  const received: string[][] = []
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === 'xack' && args[1]?.startsWith(prefix)) received.push(args)
  })
  const pipeline = vi.spyOn(redis, 'pipeline')
  const batcher = new AckBatcher(redis, 'g', noFailure)
  for (const id of idsA) batcher.ack(a, id)
  for (const id of idsB) batcher.ack(b, id)
  // Nothing is sent before the turn ends, so nothing can count as acknowledged yet.
  expect(pipeline).not.toHaveBeenCalled()
  await batcher.settled()
  expect(pipeline).toHaveBeenCalledTimes(1)
  expect((pipeline.mock.results[0]?.value as { length: number } | undefined)?.length).toBe(2)
  await waitFor('the server saw both XACKs', () => received.length >= 2)
  expect(received.map(([name, stream, group, ...ids]) => [name?.toLowerCase(), stream, group, ids])).toEqual([
    ['xack', a, 'g', idsA],
    ['xack', b, 'g', idsB],
  ])
  monitor.disconnect()
  await watcher.quit()
  expect(await pendingCount(a)).toBe(0)
  expect(await pendingCount(b)).toBe(0)

  // A later turn is a new batch; one stream only goes out as a lone XACK, without a pipeline.
  const [late] = await pendingEntries(`${prefix}:c`, 1)
  const send = vi.spyOn(redis, 'sendCommand')
  batcher.ack(`${prefix}:c`, late as string)
  await batcher.settled()
  expect(pipeline).toHaveBeenCalledTimes(1)
  expect(send).toHaveBeenCalledOnce()
  expect(send.mock.calls[0]?.[0]).toMatchObject({ name: 'xack', args: [`${prefix}:c`, 'g', late] })
  expect(await pendingCount(`${prefix}:c`)).toBe(0)
  pipeline.mockRestore()
  send.mockRestore()
})

it('reports a batch Redis did not take once, with its size, leaving the entries pending', async () => {
  const stream = `${prefix}:failed`
  const ids = await pendingEntries(stream, 4)
  const broken = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false })
  // The send starts a connection that the disconnect below cuts mid-handshake; its error is not what is tested.
  broken.on('error', () => {})
  const failures: [string, number][] = []
  const batcher = new AckBatcher(broken, 'g', (error, entries) => failures.push([error.message, entries]))
  for (const id of ids) batcher.ack(stream, id)
  await batcher.settled()
  expect(failures).toHaveLength(1)
  expect(failures[0]?.[1]).toBe(4)
  expect(await pendingCount(stream)).toBe(4)
  broken.disconnect()
})

it('reports only the entries of the stream whose XACK Redis refused', async () => {
  const good = `${prefix}:good`
  const ids = await pendingEntries(good, 2)
  // A string key, not a stream: its XACK fails with WRONGTYPE while the other goes through.
  const wrong = `${prefix}:not-a-stream`
  await redis.set(wrong, 'x')
  const failures: [string, number][] = []
  const batcher = new AckBatcher(redis, 'g', (error, entries) => failures.push([error.message, entries]))
  for (const id of ids) batcher.ack(good, id)
  batcher.ack(wrong, '1-0')
  await batcher.settled()
  expect(failures).toEqual([[expect.stringContaining('WRONGTYPE'), 1]])
  expect(await pendingCount(good)).toBe(0)
})

it('settles at once when nothing was asked for', async () => {
  const batcher = new AckBatcher(redis, 'g', noFailure)
  await batcher.settled()
  const stream = `${prefix}:settled`
  const [id] = await pendingEntries(stream, 1)
  batcher.ack(stream, id as string)
  await batcher.settled()
  expect(await pendingCount(stream)).toBe(0)
})
