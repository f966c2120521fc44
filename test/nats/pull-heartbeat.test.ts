import { AckPolicy, jetstreamManager } from '@nats-io/jetstream'
import { connect, createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Delivery } from '../../src/nats/delivery.js'
import { pullRequest } from '../../src/nats/shard-reader.js'
import { unique, waitFor } from '../messaging/conformance/helpers.js'
import { NATS_SERVERS } from '../messaging/conformance/transports.js'

// The pulls a shard sends, against this machine's real server: what its heartbeats look like is
// what the reader's silence check relies on. A stream of this file's own, deleted after it.
const stream = `pullbeat_${unique()}`
let nc: NatsConnection

beforeAll(async () => {
  nc = await connect({ servers: NATS_SERVERS })
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] })
  await jsm.consumers.add(stream, { durable_name: 'c', ack_policy: AckPolicy.Explicit })
})

afterAll(async () => {
  const jsm = await jetstreamManager(nc)
  await jsm.streams.delete(stream)
  await nc.close()
})

it('an open pull with nothing to deliver gets heartbeats (status 100) on its own subject, then its messages', async () => {
  const reply = createInbox()
  const got: Msg[] = []
  const sub = nc.subscribe(reply, { callback: (_, msg) => void got.push(msg) })
  nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.c`, pullRequest(5, 5_000, 100), { reply })
  await waitFor('two heartbeats', () => got.length >= 2, 3_000)
  expect(got.every((msg) => msg.subject === reply && msg.headers?.code === 100 && !Delivery.isDelivery(msg))).toBe(true)

  nc.publish(`${stream}.e`, 'hello')
  await waitFor('the message', () => got.some((msg) => Delivery.isDelivery(msg)), 3_000)
  const delivered = got.find((msg) => Delivery.isDelivery(msg))
  expect(new TextDecoder().decode(delivered?.data)).toBe('hello')
  sub.unsubscribe()
})
