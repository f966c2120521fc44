import { jetstreamManager } from '@nats-io/jetstream'
import { type KV, Kvm } from '@nats-io/kv'
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

it('renews the leases of all its shards at once, not one after the other', async () => {
  const shards = 8
  // Renewals fall due together a third of the way into a lease the member took for all shards at once.
  const transport = await createNatsTransport({ servers: NATS_SERVERS, prefix, shards, leaseMs: 1_500, rebalanceIntervalMs: 100 })
  // Every key-value write of this process takes 100 ms more: one after the other, 8 renewals would start 100 ms apart.
  const bucket = Object.getPrototypeOf(await new Kvm(nc).open(`${prefix}_leases`)) as KV
  const update = bucket.update
  const renewals: number[] = []
  bucket.update = async function (this: KV, key: string, ...rest) {
    if (key.startsWith('g.s')) renewals.push(performance.now())
    await sleep(100)
    return update.call(this, key, ...rest)
  }
  try {
    const consumer = await transport.subscribe({ group: 'g', handler: () => {} })
    const until = performance.now() + 5_000
    while (renewals.length < shards && performance.now() < until) await sleep(20)
    await consumer.stop()
  } finally {
    bucket.update = update
    await transport.close()
  }
  const first = renewals.slice(0, shards)
  expect(first).toHaveLength(shards)
  expect(Math.max(...first) - Math.min(...first)).toBeLessThan(50)
})
