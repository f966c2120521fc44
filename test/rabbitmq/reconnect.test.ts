import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Logger, Transport } from '../../src/index.js'
import { createRabbitMqTransport } from '../../src/rabbitmq/index.js'
import { unique, waitFor } from '../messaging/conformance/helpers.js'
import { RABBIT_TEST_SETTINGS } from '../messaging/conformance/transports.js'
import { closeConnections, createVhost, deleteVhost } from './broker.js'

const vhost = `ef-reconnect-${unique()}`
let url = ''
const opened: Transport[] = []

beforeAll(async () => {
  url = await createVhost(vhost)
})

afterAll(async () => {
  await Promise.all(opened.map((t) => t.close()))
  await deleteVhost(vhost)
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

async function open(prefix: string, logger: Logger): Promise<Transport> {
  const transport = await createRabbitMqTransport({ url, prefix, logger, ...RABBIT_TEST_SETTINGS })
  opened.push(transport)
  return transport
}

it('comes back by itself after the server closes its connections, losing no confirmed publish', async () => {
  const prefix = `t${unique()}`
  const publisherLog = countingLogger()
  const consumerLog = countingLogger()
  const publisher = await open(prefix, publisherLog)
  const consumer = await open(prefix, consumerLog)
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

  // Two server-side closes while publishes are in flight, each once traffic has flowed again.
  for (let round = 1; round <= 2; round++) {
    const before = confirmed.length
    await waitFor('publishes to flow', () => confirmed.length >= before + 20)
    await closeConnections(vhost)
    await waitFor('both clients to notice', () => publisherLog.lost >= round && consumerLog.lost >= round)
  }
  const afterLast = confirmed.length
  await waitFor('publishes to flow after the last close', () => confirmed.length >= afterLast + 20)
  publishing = false
  await loop

  await waitFor('every confirmed message to arrive', () => confirmed.every((id) => received.has(id)), 30_000)
  expect(confirmed.length).toBeGreaterThan(60)
  expect(confirmed.filter((id) => !received.has(id))).toEqual([])
}, 90_000)
