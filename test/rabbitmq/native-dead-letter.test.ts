import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Transport } from '../../src/index.js'
import { createRabbitMqTransport } from '../../src/rabbitmq/index.js'
import { deferred, unique, waitFor } from '../messaging/conformance/helpers.js'
import { RABBIT_TEST_SETTINGS } from '../messaging/conformance/transports.js'
import { createVhost, deleteVhost } from './broker.js'

const vhost = `ef-native-dl-${unique()}`
let transport: Transport

beforeAll(async () => {
  const url = await createVhost(vhost)
  transport = await createRabbitMqTransport({ url, prefix: 'native', deliveryLimit: 1, ...RABBIT_TEST_SETTINGS })
})

afterAll(async () => {
  await transport.close()
  await deleteVhost(vhost)
})

it('the broker dead-letters by itself a message whose consumers keep dying on it', async () => {
  expect(transport.capabilities.supportsNativeDeadLettering).toBe(true)
  const hang = async () => {
    const started = deferred()
    const consumer = await transport.subscribe({
      group: 'doomed',
      handler: () => {
        started.resolve()
        return new Promise<void>(() => {})
      },
    })
    return { started: started.promise, consumer }
  }
  // Subscribe first so the group's queues exist before the publish.
  const first = await hang()
  const { ids } = await transport.publish([{ type: 'Poison', data: 'kills its consumer' }])
  await first.started
  // A consumer that never settles and is given up is, to the broker, a consumer that died.
  await first.consumer.stop({ timeoutMs: 20 })
  const second = await hang()
  await second.started
  await second.consumer.stop({ timeoutMs: 20 })

  await waitFor('the broker to dead-letter it', async () => (await transport.deadLetters.list('doomed')).length === 1)
  const [letter] = await transport.deadLetters.list('doomed')
  expect(letter).toMatchObject({ id: ids[0], error: { code: 'DELIVERY_LIMIT' }, message: { id: ids[0], type: 'Poison' } })
  expect(letter?.origin).toMatch(/^native\.doomed\.s\d+$/)
})
