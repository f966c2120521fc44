import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, expect, it } from 'vitest'
import type { Transport } from '../../src/index.js'
import { createNatsTransport } from '../../src/nats/index.js'
import { unique, waitFor } from '../messaging/conformance/helpers.js'
import { NATS_SERVERS, NATS_TEST_SETTINGS, natsStreams } from '../messaging/conformance/transports.js'

const prefix = `upgrade-${unique()}`
const opened: Transport[] = []

afterAll(async () => {
  await Promise.all(opened.map((t) => t.close()))
  const nc = await connect({ servers: NATS_SERVERS })
  const jsm = await jetstreamManager(nc)
  for (const stream of natsStreams(prefix)) await jsm.streams.delete(stream).catch(() => {})
  await nc.close()
})

it('raises the max_ack_pending of a consumer made by an eventfold that took one message per shard at a time', async () => {
  const transport = await createNatsTransport({ servers: NATS_SERVERS, prefix, ...NATS_TEST_SETTINGS })
  opened.push(transport)
  const nc = await connect({ servers: NATS_SERVERS })
  const jsm = await jetstreamManager(nc)
  // What the previous version created for shard 0 of a group.
  await jsm.consumers.add(`${prefix}_events`, {
    durable_name: 'old_s0',
    filter_subject: `${prefix}.s0.>`,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    max_ack_pending: 1,
    max_deliver: -1,
    ack_wait: NATS_TEST_SETTINGS.ackWaitMs * 1_000_000,
  })
  const got: number[] = []
  await transport.subscribe({ group: 'old', handler: (m) => void got.push(m.data as number) })
  expect((await jsm.consumers.info(`${prefix}_events`, 'old_s0')).config.max_ack_pending).toBeGreaterThan(1)
  await transport.publish([{ type: 'Kept', data: 1 }])
  await waitFor('the message', () => got.length === 1)
  await nc.close()
})
