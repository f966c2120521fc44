import amqp from 'amqplib'
import { Redis } from 'ioredis'
import { expect, it } from 'vitest'
import { createNatsTransport } from '../../src/nats/index.js'
import { createRabbitMqTransport } from '../../src/rabbitmq/index.js'
import { createRedisTransport } from '../../src/redis/index.js'
import { AMQP_BASE } from '../rabbitmq/broker.js'
import { deleteKeys } from '../redis/admin.js'
import { unique, waitFor } from './conformance/helpers.js'
import { NATS_SERVERS, natsStreams, REDIS_URL } from './conformance/transports.js'

// What a consumer that knows CloudEvents but not eventfold finds on each broker: the protocol
// binding's attribute headers and the data alone as the body.
const outgoing = { type: 'OrderPlaced', data: { orderId: 'o-1' }, partitionKey: 'o-1', subject: 'orders/o-1' }

it('RabbitMQ: a plain AMQP consumer reads cloudEvents_ headers, the content type and a JSON body', async () => {
  const prefix = `interop${unique()}`
  const transport = await createRabbitMqTransport({ url: AMQP_BASE, prefix, shards: 2 })
  const connection = await amqp.connect(AMQP_BASE)
  const channel = await connection.createChannel()
  channel.on('error', () => {})
  try {
    const { queue } = await channel.assertQueue('', { exclusive: true })
    await channel.bindQueue(queue, `${prefix}.events`, '#')
    const { ids } = await transport.publish([outgoing])
    let got: amqp.GetMessage | false = false
    await waitFor('the message', async () => {
      got = await channel.get(queue, { noAck: true })
      return got !== false
    })
    const message = got as unknown as amqp.GetMessage
    expect(message.properties.contentType).toBe('application/json')
    expect(message.properties.headers).toMatchObject({
      cloudEvents_specversion: '1.0',
      cloudEvents_id: ids[0],
      cloudEvents_type: 'OrderPlaced',
      cloudEvents_source: 'eventfold',
      cloudEvents_subject: 'orders/o-1',
      cloudEvents_partitionkey: 'o-1',
    })
    expect(JSON.parse(message.content.toString())).toEqual(outgoing.data)
  } finally {
    await transport.close()
    for (const exchange of ['events', 'dead-letters', 'redeliver']) await channel.deleteExchange(`${prefix}.${exchange}`)
    await connection.close()
  }
})

it('NATS: a plain NATS subscriber reads ce- headers, the content-type header and a JSON body', async () => {
  const prefix = `interop${unique()}`
  const transport = await createNatsTransport({ servers: NATS_SERVERS, prefix, shards: 2 })
  const { connect } = await import('@nats-io/transport-node')
  const { jetstreamManager } = await import('@nats-io/jetstream')
  const nc = await connect({ servers: NATS_SERVERS })
  try {
    const subscription = nc.subscribe(`${prefix}.>`, { max: 1 })
    // The server must know the subscription before the publish (from another connection) arrives.
    await nc.flush()
    const { ids } = await transport.publish([outgoing])
    for await (const msg of subscription) {
      expect(msg.headers?.get('ce-specversion')).toBe('1.0')
      expect(msg.headers?.get('ce-id')).toBe(ids[0])
      expect(msg.headers?.get('ce-type')).toBe('OrderPlaced')
      expect(msg.headers?.get('ce-partitionkey')).toBe('o-1')
      expect(msg.headers?.get('content-type')).toBe('application/json')
      expect(msg.json()).toEqual(outgoing.data)
    }
  } finally {
    await transport.close()
    const jsm = await jetstreamManager(nc)
    for (const stream of natsStreams(prefix)) await jsm.streams.delete(stream).catch(() => {})
    await nc.close()
  }
})

it('Redis: a plain XRANGE reads ce_ fields, the content type and the JSON data field', async () => {
  const prefix = `interop${unique()}`
  const transport = await createRedisTransport({ url: REDIS_URL, prefix, shards: 1 })
  const redis = new Redis(REDIS_URL)
  try {
    const { ids } = await transport.publish([outgoing])
    const entries = await redis.xrange(`${prefix}:s0`, '-', '+')
    expect(entries).toHaveLength(1)
    const flat = entries[0]?.[1] as string[]
    const fields = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])))
    expect(fields).toMatchObject({
      ce_specversion: '1.0',
      ce_id: ids[0],
      ce_type: 'OrderPlaced',
      'content-type': 'application/json',
    })
    expect(JSON.parse(fields.data as string)).toEqual(outgoing.data)
  } finally {
    await transport.close()
    await deleteKeys(redis, prefix)
    await redis.quit()
  }
})
