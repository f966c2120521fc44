import type { Msg, MsgCallback, MsgHdrs } from '@nats-io/transport-node'
import { expect, it } from 'vitest'
import type { NatsLink } from '../../src/nats/pub-acks.js'
import { NatsPublisher } from '../../src/nats/publisher.js'

interface Attempt {
  subject: string
  headers: MsgHdrs
}

/** What the stream does with one publish: store it, refuse it, not answer, or the client throws. */
type Answer = 'store' | 'refuse' | 'silence' | 'throw'

/** A connection whose publishes JetStream answers from a script, one entry per publish. */
function scripted(answers: Answer[]) {
  const attempts: Attempt[] = []
  let deliver: MsgCallback<Msg> = () => {}
  const reply = (subject: string, body: object | undefined) => {
    const data = body === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(body))
    queueMicrotask(() => deliver(null, { subject, data } as Msg))
  }
  const link: NatsLink = {
    subscribe(_subject, options) {
      deliver = options?.callback ?? deliver
      return {} as ReturnType<NatsLink['subscribe']>
    },
    publish(subject, _body, options) {
      attempts.push({ subject, headers: options?.headers as MsgHdrs })
      const answer = answers.shift() ?? 'store'
      const to = options?.reply as string
      if (answer === 'throw') throw new Error('CONNECTION_CLOSED')
      if (answer === 'store') reply(to, { stream: 's', seq: attempts.length })
      if (answer === 'refuse') reply(to, { error: { code: 503, err_code: 10077, description: 'maximum messages exceeded' } })
    },
  }
  return { link, attempts }
}

const message = (id: string) => ({
  id,
  subject: 'p.s0.ev',
  body: new Uint8Array(),
  headers: { 'ce-id': id, 'ce-type': 'T' },
  msgId: id,
})

it('sends an unanswered publish again with the same headers and message id, so the stream can drop a duplicate', async () => {
  const { link, attempts } = scripted(['silence'])
  await new NatsPublisher(link, 5_000, 50).send([message('m1')])
  expect(attempts).toHaveLength(2)
  expect(attempts[1]?.headers).toBe(attempts[0]?.headers)
  expect(attempts[0]?.headers.get('Nats-Msg-Id')).toBe('m1')
  expect(attempts[0]?.headers.get('ce-id')).toBe('m1')
  expect(attempts[0]?.headers.get('ce-type')).toBe('T')
})

it('sends again only the messages of a batch that were not stored', async () => {
  const { link, attempts } = scripted(['store', 'silence', 'store', 'throw'])
  await new NatsPublisher(link, 5_000, 50).send(['m1', 'm2', 'm3', 'm4'].map(message))
  expect(attempts.map((a) => a.headers.get('ce-id'))).toEqual(['m1', 'm2', 'm3', 'm4', 'm2', 'm4'])
})

it('resolves only once every message of the batch is stored', async () => {
  const { link } = scripted(['store', 'silence'])
  let settled = false
  const sending = new NatsPublisher(link, 5_000, 100).send([message('m1'), message('m2')]).then(() => {
    settled = true
  })
  await new Promise((resolve) => setTimeout(resolve, 50))
  expect(settled).toBe(false)
  await sending
})

it('surfaces a refusal by the server as PUBLISH_NOT_CONFIRMED, without sending again', async () => {
  const { link, attempts } = scripted(['store', 'refuse'])
  await expect(new NatsPublisher(link, 5_000, 50).send([message('m1'), message('m2')])).rejects.toMatchObject({
    code: 'PUBLISH_NOT_CONFIRMED',
    messageId: 'm2',
    cause: { name: 'JetStreamApiError', code: 10077 },
  })
  expect(attempts).toHaveLength(2)
})

it('gives up with TRANSPORT_UNAVAILABLE once the publish timeout has passed', async () => {
  const { link } = scripted(Array.from({ length: 100 }, () => 'silence' as const))
  await expect(new NatsPublisher(link, 150, 20).send([message('m1')])).rejects.toMatchObject({ code: 'TRANSPORT_UNAVAILABLE' })
})

it('takes a status without a body (no stream listening) as a failed attempt, sent again', async () => {
  const attempts: string[] = []
  let deliver: MsgCallback<Msg> = () => {}
  const link: NatsLink = {
    subscribe: (_subject, options) => {
      deliver = options?.callback ?? deliver
      return {} as ReturnType<NatsLink['subscribe']>
    },
    publish(subject, _body, options) {
      attempts.push(subject)
      const data = attempts.length === 1 ? new Uint8Array() : new TextEncoder().encode('{"stream":"s","seq":1}')
      queueMicrotask(() => deliver(null, { subject: options?.reply, data } as Msg))
    },
  }
  await new NatsPublisher(link, 5_000, 1_000).send([message('m1')])
  expect(attempts).toHaveLength(2)
})
