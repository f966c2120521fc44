import { jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createNatsTransport } from '../../src/nats/index.js'
import { sleep, unique } from '../messaging/conformance/helpers.js'
import { NATS_SERVERS, natsStreams } from '../messaging/conformance/transports.js'

const prefix = `member-${unique()}`
let nc: NatsConnection

beforeAll(async () => {
  nc = await connect({ servers: NATS_SERVERS })
})

afterAll(async () => {
  const jsm = await jetstreamManager(nc)
  for (const stream of natsStreams(prefix)) await jsm.streams.delete(stream).catch(() => {})
  await nc.close()
})

it('renews the leases of shards claimed together one by one, not all at once', async () => {
  const shards = 8
  // A renewal a third of the way in: every second, each lease; 125 ms apart if spread.
  const leaseMs = 3_000
  const transport = await createNatsTransport({ servers: NATS_SERVERS, prefix, shards, leaseMs, rebalanceIntervalMs: 100 })
  const consumer = await transport.subscribe({ group: 'g', handler: () => {} })
  const kv = await new Kvm(nc).open(`${prefix}_leases`)
  const writes = await kv.watch({ key: 'g.*', include: 'updates' })
  const at: number[] = []
  void (async () => {
    for await (const entry of writes) if (entry.operation === 'PUT' && entry.key !== 'g.members') at.push(performance.now())
  })()
  await sleep(leaseMs * 0.8)
  writes.stop()
  await consumer.stop()
  await transport.close()

  // All shards were claimed in one beat: each lease was renewed in the time watched.
  expect(at.length).toBeGreaterThanOrEqual(shards)
  // Renewed in one burst, all of them would come within a few milliseconds.
  const mostWithin40Ms = Math.max(...at.map((t) => at.filter((u) => u >= t && u < t + 40).length))
  expect(mostWithin40Ms).toBeLessThanOrEqual(3)
})
