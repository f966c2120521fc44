import { JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream'
import type { MsgHdrs } from '@nats-io/transport-node'
import { expect, it } from 'vitest'
import { NatsPublisher } from '../../src/nats/publisher.js'

interface Attempt {
  subject: string
  headers: MsgHdrs
  msgID: string | undefined
}

/** A JetStream client whose publishes answer from a script, one entry per call. */
function scripted(answers: (() => unknown)[]) {
  const attempts: Attempt[] = []
  const js = {
    async publish(subject: string, _body: Uint8Array, options: { headers: MsgHdrs; msgID?: string }) {
      attempts.push({ subject, headers: options.headers, msgID: options.msgID })
      return (answers.shift() ?? (() => ({ stream: 's', seq: attempts.length })))()
    },
  } as unknown as JetStreamClient
  return { js, attempts }
}

const message = { id: 'm1', subject: 'p.s0.ev', body: new Uint8Array(), headers: { 'ce-id': 'm1', 'ce-type': 'T' }, msgId: 'm1' }

it('sends a timed-out publish again with the same headers and message id, so the stream can drop a duplicate', async () => {
  const { js, attempts } = scripted([
    () => {
      throw new Error('TIMEOUT')
    },
  ])
  await new NatsPublisher(js, 5_000).send([message])
  expect(attempts).toHaveLength(2)
  expect(attempts[1]?.headers).toBe(attempts[0]?.headers)
  expect(attempts.map((a) => a.msgID)).toEqual(['m1', 'm1'])
  expect(attempts[0]?.headers.get('ce-id')).toBe('m1')
  expect(attempts[0]?.headers.get('ce-type')).toBe('T')
})

it('surfaces a refusal by the server as PUBLISH_NOT_CONFIRMED, without sending again', async () => {
  const { js, attempts } = scripted([
    () => {
      throw new JetStreamApiError({ code: 503, err_code: 10077, description: 'maximum messages exceeded' })
    },
  ])
  await expect(new NatsPublisher(js, 5_000).send([message])).rejects.toMatchObject({
    code: 'PUBLISH_NOT_CONFIRMED',
    messageId: 'm1',
  })
  expect(attempts).toHaveLength(1)
})

it('gives up with TRANSPORT_UNAVAILABLE once the publish timeout has passed', async () => {
  const { js } = scripted(
    Array.from({ length: 100 }, () => () => {
      throw new Error('TIMEOUT')
    }),
  )
  await expect(new NatsPublisher(js, 150).send([message])).rejects.toMatchObject({ code: 'TRANSPORT_UNAVAILABLE' })
})
