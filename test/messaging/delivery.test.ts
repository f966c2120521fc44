import { expect, it } from 'vitest'
import { createMessage, currentMessage, encodeBinary } from '../../src/index.js'
import { runDelivery } from '../../src/messaging/delivery.js'
import { resolveSubscription } from '../../src/messaging/retry.js'

const wire = () => encodeBinary(createMessage({ type: 'Paid', data: { amount: 3 } }, 'test'), 'kafka')
const subscription = (handler: (m: { id: string }) => unknown, maxAttempts = 2) =>
  resolveSubscription({ group: 'g', handler: handler as never, retry: { maxAttempts, jitter: false } })

it('settles a handler that returned no promise at once, inside the message context', () => {
  const seen: (string | undefined)[] = []
  const outcome = runDelivery(
    wire(),
    'kafka',
    1,
    subscription(() => void seen.push(currentMessage()?.type)),
  )
  expect(outcome).not.toBeInstanceOf(Promise)
  expect(outcome).toMatchObject({ kind: 'ack', message: { type: 'Paid', data: { amount: 3 } } })
  expect(seen).toEqual(['Paid'])
  expect(currentMessage()).toBeUndefined()
})

it('decides a synchronous throw at once: a retry, then dead on the last attempt', () => {
  const fail = subscription(() => {
    throw new Error('no')
  })
  expect(runDelivery(wire(), 'kafka', 1, fail)).toMatchObject({ kind: 'retry', delayMs: 100, error: { message: 'no' } })
  expect(runDelivery(wire(), 'kafka', 2, fail)).toMatchObject({ kind: 'dead', attempts: 2, error: { message: 'no' } })
})

it('waits for a promise or any thenable the handler returns, and keeps the context across its awaits', async () => {
  const seen: (string | undefined)[] = []
  const handler = async () => {
    await new Promise((resolve) => setTimeout(resolve, 1))
    seen.push(currentMessage()?.type)
  }
  const pending = runDelivery(wire(), 'kafka', 1, subscription(handler))
  expect(pending).toBeInstanceOf(Promise)
  await expect(pending).resolves.toMatchObject({ kind: 'ack' })
  expect(seen).toEqual(['Paid'])

  // biome-ignore lint/suspicious/noThenProperty: a foreign promise-like is what this checks
  const thenable = { then: (_: unknown, reject: (e: Error) => void) => reject(new Error('later')) }
  await expect(
    runDelivery(
      wire(),
      'kafka',
      1,
      subscription(() => thenable),
    ),
  ).resolves.toMatchObject({
    kind: 'retry',
    error: { message: 'later' },
  })
})

it('an undecodable message is dead at once, without running the handler', () => {
  const ran: boolean[] = []
  const outcome = runDelivery(
    { headers: {}, body: '{}' },
    'kafka',
    1,
    subscription(() => void ran.push(true)),
  )
  expect(outcome).toMatchObject({ kind: 'dead', attempts: 1, error: { code: 'UNDECODABLE_MESSAGE' } })
  expect(ran).toEqual([])
})
