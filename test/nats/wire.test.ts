import { connect, type Msg, headers as natsHeaders } from '@nats-io/transport-node'
import { expect, it } from 'vitest'
import { Delivery } from '../../src/nats/delivery.js'
import { fromHeaders, rawFields, toHeaders } from '../../src/nats/wire.js'
import { unique } from '../messaging/conformance/helpers.js'
import { NATS_SERVERS } from '../messaging/conformance/transports.js'

it('reads the header block of a real delivery exactly as the client decodes it', async () => {
  const nc = await connect({ servers: NATS_SERVERS })
  const subject = `wire.${unique()}`
  const received: Msg[] = []
  const sub = nc.subscribe(subject, { callback: (_, msg) => void received.push(msg) })
  const cases: (Record<string, string> | undefined)[] = [
    { 'ce-id': 'a', 'ce-type': 'Thing', 'content-type': 'application/json' },
    // Text the envelope lets through: spaces inside, colons, non-ASCII, an empty value.
    { 'ce-subject': 'a: b  c', 'ce-source': 'urn:x:ünïcødé ✓', 'ce-partitionkey': '' },
    // Names as long as ones eventfold sends but not them, values ending in non-ASCII or with spaces around.
    { 'ce-xd': 'é', 'ce-ide': ' x ', 'Ce-Id': '\tpadded\t', 'ce-time': 'ü', 'eventfold-replay-grouq': 'g' },
    undefined,
  ]
  for (const values of cases) nc.publish(subject, 'body', values === undefined ? {} : { headers: toHeaders(values) })
  // A name sent twice: the first value counts, as `fromHeaders` has it.
  const twice = natsHeaders()
  twice.append('ce-id', 'first')
  twice.append('ce-id', 'second')
  twice.append('Mixed-Case', 'kept')
  nc.publish(subject, 'body', { headers: twice })
  await nc.flush()
  await expect.poll(() => received.length).toBe(5)
  for (const msg of received) {
    const raw = rawFields(msg)
    expect(raw).toBeDefined()
    expect(raw).toEqual(fromHeaders(msg.headers))
  }
  expect(rawFields(received[1])?.['ce-source']).toBe('urn:x:ünïcødé ✓')
  expect(rawFields(received[4])).toEqual({ 'ce-id': 'first', 'Mixed-Case': 'kept' })
  expect(rawFields(received[3])).toEqual({})
  expect(rawFields(received[2])?.['ce-xd']).toBe('é')
  sub.unsubscribe()
  await nc.close()
})

it("encodes headers byte for byte as the client's own, message id last, and refuses a line break as it does", () => {
  const values = { 'ce-id': 'a', 'ce-source': 'urn:x:ünïcødé ✓', 'ce-ide': ' x ', 'Ce-Id': '\tpadded\t', 'ce-subject': '' }
  const client = natsHeaders()
  for (const [name, value] of Object.entries(values)) client.append(name, value)
  client.append('Nats-Msg-Id', 'm1')
  const encode = (headers: unknown) => Buffer.from((headers as { encode(): Uint8Array }).encode()).toString('utf8')
  expect(encode(toHeaders(values, 'm1'))).toBe(encode(client))
  expect(toHeaders(values, 'm1').get('ce-ide')).toBe('x')
  // A message id already among the values is replaced, as the client's `msgID` option did.
  expect(toHeaders({ 'Nats-Msg-Id': 'old' }, 'new').values('Nats-Msg-Id')).toEqual(['new'])
  expect(() => toHeaders({ 'ce-type': 'a\r\nb' })).toThrow()
})

it('declines a message not shaped as the client makes them, so the caller takes the client way', () => {
  expect(rawFields({})).toBeUndefined()
  expect(rawFields({ _rdata: 'text', _msg: { hdr: 3 } })).toBeUndefined()
  expect(rawFields({ _rdata: new TextEncoder().encode('HTTP/1.1\r\n\r\n'), _msg: { hdr: 12 } })).toBeUndefined()
})

it("reads a delivery's counts off both forms of JetStream's reply subject", () => {
  const of = (reply: string) => new Delivery({ reply } as unknown as Msg)
  const short = of('$JS.ACK.orders_events.billing_s3.2.1041.77.1732890000000000000.5')
  expect([short.deliveryCount, short.seq, short.dseq]).toEqual([2, 1041, 77])
  const long = of('$JS.ACK.hub.ACCOUNTHASH.orders_events.billing_s3.1.9.8.1732890000000000000.0.r4nd0m')
  expect([long.deliveryCount, long.seq, long.dseq]).toEqual([1, 9, 8])
  const eleven = of('$JS.ACK.hub.ACCOUNTHASH.orders_events.billing_s3.3.12.40.1732890000000000000.0')
  expect([eleven.deliveryCount, eleven.seq, eleven.dseq]).toEqual([3, 12, 40])
  // Read as Number reads each token: an empty one is 0, one not a number NaN; too few tokens, all NaN.
  const odd = of('$JS.ACK.orders_events.billing_s3..x1.77.1732890000000000000.5')
  expect([odd.deliveryCount, odd.seq, odd.dseq]).toEqual([0, Number.NaN, 77])
  const cut = of('$JS.ACK.orders_events.billing_s3.2')
  expect([cut.deliveryCount, cut.seq, cut.dseq]).toEqual([Number.NaN, Number.NaN, Number.NaN])
})
