import { Redis } from 'ioredis'
import { afterAll, expect, it } from 'vitest'
import type { Logger, Transport } from '../../src/index.js'
import { createRedisTransport } from '../../src/redis/index.js'
import { unique, waitFor } from '../messaging/conformance/helpers.js'
import { REDIS_TEST_SETTINGS, REDIS_URL } from '../messaging/conformance/transports.js'
import { deleteKeys, killConnections } from './admin.js'

const prefix = `reconnect-${unique()}`
const opened: Transport[] = []
const admin = new Redis(REDIS_URL)

afterAll(async () => {
  await Promise.all(opened.map((t) => t.close()))
  await deleteKeys(admin, prefix)
  await admin.quit()
})

function countingLogger(): Logger & { lost: number } {
  const logger = {
    lost: 0,
    warn(message: string) {
      if (message.includes('connection lost')) logger.lost++
    },
  }
  return logger
}

it('comes back by itself after the server kills its connections, losing no confirmed publish', async () => {
  const publisherLog = countingLogger()
  const consumerLog = countingLogger()
  const open = async (logger: Logger) => {
    const transport = await createRedisTransport({ url: REDIS_URL, prefix, logger, ...REDIS_TEST_SETTINGS })
    opened.push(transport)
    return transport
  }
  const publisher = await open(publisherLog)
  const consumer = await open(consumerLog)
  const received = new Set<string>()
  await consumer.subscribe({ group: 'survivors', concurrency: 4, handler: (m) => void received.add(m.id) })

  const confirmed: string[] = []
  let publishing = true
  const loop = (async () => {
    for (let i = 0; publishing; i++) {
      const { ids } = await publisher.publish([{ type: 'Tick', data: i, partitionKey: `k${i % 5}` }])
      confirmed.push(...ids)
    }
  })()

  for (let round = 1; round <= 2; round++) {
    const before = confirmed.length
    await waitFor('publishes to flow', () => confirmed.length >= before + 20)
    expect(await killConnections(admin, prefix)).toBeGreaterThanOrEqual(3)
    await waitFor('both clients to notice', () => publisherLog.lost >= round && consumerLog.lost >= round)
  }
  const afterLast = confirmed.length
  await waitFor('publishes to flow after the last kill', () => confirmed.length >= afterLast + 20)
  publishing = false
  await loop

  await waitFor('every confirmed message to arrive', () => confirmed.every((id) => received.has(id)), 30_000)
  expect(confirmed.filter((id) => !received.has(id))).toEqual([])
}, 90_000)
