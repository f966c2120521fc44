import { expect, it } from 'vitest'
import { isEventfoldError } from '../../src/index.js'
import { createNatsTransport } from '../../src/nats/index.js'
import { createRabbitMqTransport } from '../../src/rabbitmq/index.js'
import { createRedisTransport } from '../../src/redis/index.js'

// Port 1 on loopback: nothing listens there, so the connection is refused at once.
const refused = {
  rabbitmq: () => createRabbitMqTransport({ url: 'amqp://guest:guest@127.0.0.1:1' }),
  nats: () => createNatsTransport({ servers: '127.0.0.1:1' }),
  redis: () => createRedisTransport({ url: 'redis://127.0.0.1:1' }),
}

for (const [name, open] of Object.entries(refused)) {
  it(`${name}: a broker that cannot be reached at start-up is a TRANSPORT_UNAVAILABLE error, not a wait`, async () => {
    const error = await open().catch((e: unknown) => e)
    expect(isEventfoldError(error, 'TRANSPORT_UNAVAILABLE')).toBe(true)
  })
}
