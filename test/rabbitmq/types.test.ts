import amqp from 'amqplib'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { isEventfoldError } from '../../src/index.js'
import { createRabbitMqTransport, type RabbitMqTransport } from '../../src/rabbitmq/index.js'
import { unique } from '../messaging/conformance/helpers.js'
import { AMQP_BASE } from './broker.js'

let transport: RabbitMqTransport
const prefix = `t${unique()}`

// Both calls fail before they declare or send anything; only the exchanges of opening are left to remove.
beforeAll(async () => {
  transport = await createRabbitMqTransport({ url: AMQP_BASE, prefix })
})

afterAll(async () => {
  await transport.close()
  const connection = await amqp.connect(AMQP_BASE)
  const channel = await connection.createChannel()
  for (const exchange of ['events', 'dead-letters', 'redeliver']) await channel.deleteExchange(`${prefix}.${exchange}`)
  await connection.close()
})

it('refuses a type a topic routing key cannot carry, before it reaches the broker', async () => {
  for (const type of ['Order.*', 'Order.#', 'x'.repeat(201)]) {
    const published = await transport.publish([{ type, data: 1 }]).catch((e: unknown) => e)
    expect(isEventfoldError(published, 'INVALID_ARGUMENT'), type).toBe(true)
    const subscribed = await transport.subscribe({ group: 'g', types: [type], handler: () => {} }).catch((e: unknown) => e)
    expect(isEventfoldError(subscribed, 'INVALID_ARGUMENT'), type).toBe(true)
  }
})
