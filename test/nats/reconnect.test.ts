import { afterAll, expect, it } from 'vitest'
import type { Logger, Transport } from '../../src/index.js'
import { createNatsTransport } from '../../src/nats/index.js'
import { unique, waitFor } from '../messaging/conformance/helpers.js'
import { NATS_TEST_SETTINGS, natsStreams } from '../messaging/conformance/transports.js'
import { TcpProxy } from '../messaging/fixtures/tcp-proxy.js'

const prefix = `reconnect-${unique()}`
const opened: Transport[] = []
let proxy: TcpProxy | undefined

afterAll(async () => {
  await Promise.all(opened.map((t) => t.close()))
  await proxy?.close()
  const { connect } = await import('@nats-io/transport-node')
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const nc = await connect({ servers: '127.0.0.1:4222' })
  const jsm = await jetstreamManager(nc)
  for (const stream of natsStreams(prefix)) await jsm.streams.delete(stream).catch(() => {})
  await nc.close()
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

it('comes back by itself after its connections are cut, losing no acknowledged publish', async () => {
  proxy = await TcpProxy.start(4222)
  const servers = `127.0.0.1:${proxy.port}`
  const publisherLog = countingLogger()
  const consumerLog = countingLogger()
  const open = async (logger: Logger) => {
    const transport = await createNatsTransport({ servers, prefix, logger, ...NATS_TEST_SETTINGS })
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
    expect(proxy.cut()).toBeGreaterThanOrEqual(2)
    await waitFor('both clients to notice', () => publisherLog.lost >= round && consumerLog.lost >= round)
  }
  const afterLast = confirmed.length
  await waitFor('publishes to flow after the last cut', () => confirmed.length >= afterLast + 20)
  publishing = false
  await loop

  await waitFor('every acknowledged message to arrive', () => confirmed.every((id) => received.has(id)), 30_000)
  expect(confirmed.filter((id) => !received.has(id))).toEqual([])
}, 90_000)
