import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type Binding,
  createMessage,
  decodeBinary,
  encodeBinary,
  isEventfoldError,
  type Message,
  runInMessageContext,
  toCloudEvent,
} from '../../src/index.js'
import { encodeBinaryJson } from '../../src/messaging/binary-mode.js'
import { createMessageWithJson } from '../../src/messaging/envelope.js'

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

const full: Message = {
  id: 'm-1',
  type: 'OrderPlaced',
  source: 'orders-service',
  data: { orderId: 'o-1', total: 12.5, tags: ['a'] },
  time: new Date('2026-03-04T05:06:07.089Z'),
  subject: 'orders/o-1',
  correlationId: 'c-1',
  causationId: 'k-1',
  partitionKey: 'o-1',
  dataSchemaVersion: 2,
  traceparent: TRACE,
}

function decodeError(run: () => unknown): { code?: string; field?: string } {
  try {
    run()
  } catch (error) {
    return error as { code?: string; field?: string }
  }
  throw new Error('expected an error')
}

describe('binary content mode', () => {
  const prefixes: Record<Binding, string> = { amqp: 'cloudEvents_', nats: 'ce-', kafka: 'ce_' }

  for (const [binding, prefix] of Object.entries(prefixes) as [Binding, string][]) {
    it(`${binding}: attributes in ${prefix}* headers, plain JSON data in the body, and back`, () => {
      const wire = encodeBinary(full, binding)
      expect(wire.headers).toEqual({
        [`${prefix}specversion`]: '1.0',
        [`${prefix}id`]: 'm-1',
        [`${prefix}source`]: 'orders-service',
        [`${prefix}type`]: 'OrderPlaced',
        [`${prefix}time`]: '2026-03-04T05:06:07.089Z',
        [`${prefix}subject`]: 'orders/o-1',
        [`${prefix}correlationid`]: 'c-1',
        [`${prefix}causationid`]: 'k-1',
        [`${prefix}partitionkey`]: 'o-1',
        [`${prefix}dataschemaversion`]: '2',
        [`${prefix}traceparent`]: TRACE,
      })
      expect(wire.contentType).toBe('application/json')
      // What a consumer that knows nothing of CloudEvents sees: the data itself.
      expect(JSON.parse(wire.body.toString('utf8'))).toEqual(full.data)
      expect(decodeBinary(wire, binding)).toEqual(full)
    })
  }

  it('reads a foreign CloudEvent: the older cloudEvents: prefix, header values as bytes, no eventfold extensions', () => {
    const message = decodeBinary(
      {
        headers: {
          'cloudEvents:specversion': '1.0',
          'cloudEvents:id': Buffer.from('x-1'),
          'cloudEvents:source': '/elsewhere',
          'cloudEvents:type': 'com.example.thing',
          unrelated: 7,
        },
        contentType: 'application/cloudevents-payload+json; charset=utf-8',
        body: Buffer.from('[1,2]'),
      },
      'amqp',
    )
    expect(message).toEqual({
      id: 'x-1',
      source: '/elsewhere',
      type: 'com.example.thing',
      data: [1, 2],
      correlationId: 'x-1',
      causationId: 'x-1',
    })
  })

  it('matches header prefixes without regard to case (NATS and HTTP-style stacks change it)', () => {
    const headers = { 'Ce-Specversion': '1.0', 'CE-ID': 'i', 'ce-Source': 's', 'ce-type': 't' }
    expect(decodeBinary({ headers, body: Buffer.from('null') }, 'nats')).toMatchObject({ id: 'i', source: 's', type: 't' })
  })

  it('reads every header name alike, however many distinct names it has already seen', () => {
    // Names are remembered up to a bound: past it, names new and remembered still read the same.
    for (let i = 0; i < 600; i++) {
      const headers = {
        'ce-specversion': '1.0',
        'ce-id': `i${i}`,
        'ce-source': 's',
        'ce-type': 't',
        [`ce-x${i}`]: 'v',
        [`other-${i}`]: 'o',
      }
      expect(decodeBinary({ headers, body: Buffer.from('null') }, 'nats')).toEqual({
        id: `i${i}`,
        source: 's',
        type: 't',
        data: null,
        correlationId: `i${i}`,
        causationId: `i${i}`,
      })
    }
    const headers = { 'CE-SPECVERSION': '1.0', 'Ce-Id': 'late', 'cE-sOuRcE': 's', 'ce-TYPE': 't', 'ce-partitionKey': 'k' }
    expect(decodeBinary({ headers, body: Buffer.from('null') }, 'nats')).toMatchObject({ id: 'late', partitionKey: 'k' })
    // The same names under another binding are not its attributes.
    expect(() => decodeBinary({ headers, body: Buffer.from('null') }, 'kafka')).toThrow(/specversion/)
  })

  it('reads the body from a view into a larger buffer, and from text, as it reads it from a Buffer', () => {
    const headers = { ce_specversion: '1.0', ce_id: 'i', ce_source: 's', ce_type: 't' }
    // What some clients hand over: a Uint8Array (not a Buffer) over part of a bigger frame.
    const frame = new TextEncoder().encode('xx{"n":1}yy')
    const view = new Uint8Array(frame.buffer, 2, 7)
    expect(decodeBinary({ headers, body: view }, 'kafka').data).toEqual({ n: 1 })
    expect(decodeBinary({ headers, body: '{"n":2}' }, 'kafka').data).toEqual({ n: 2 })
    expect(decodeBinary({ headers, body: '' }, 'kafka').data).toBeNull()
  })

  const base = { ce_specversion: '1.0', ce_id: 'i', ce_source: 's', ce_type: 't' }
  const cases: [string, Record<string, unknown>, string | undefined, string, string][] = [
    ['no id', { ...base, ce_id: undefined }, undefined, '{}', 'id'],
    ['an empty type', { ...base, ce_type: '' }, undefined, '{}', 'type'],
    ['another spec version', { ...base, ce_specversion: '0.3' }, undefined, '{}', 'specversion'],
    ['a body that is not JSON', base, 'application/json', '{oops', 'data'],
    ['a content type that is not JSON', base, 'text/plain', 'hello', 'datacontenttype'],
    ['a bad time', { ...base, ce_time: 'yesterday' }, undefined, '1', 'time'],
    ['a bad schema version', { ...base, ce_dataschemaversion: 'v2' }, undefined, '1', 'dataschemaversion'],
    ['a header that is not text', { ...base, ce_subject: { nested: true } }, undefined, '1', 'ce_subject'],
  ]
  for (const [what, headers, contentType, body, field] of cases) {
    it(`refuses ${what} with UNDECODABLE_MESSAGE naming '${field}'`, () => {
      const defined = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined))
      const error = decodeError(() => decodeBinary({ headers: defined, contentType, body: Buffer.from(body) }, 'kafka'))
      expect(isEventfoldError(error, 'UNDECODABLE_MESSAGE')).toBe(true)
      expect(error.field).toBe(field)
    })
  }
})

describe('creating messages', () => {
  it('fills in id, time and source, and starts a conversation outside any handler', () => {
    const message = createMessage({ type: 'A', data: 1 }, 'svc')
    expect(message.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/)
    expect(message).toMatchObject({ type: 'A', data: 1, source: 'svc', correlationId: message.id, causationId: message.id })
    expect(message.time).toBeInstanceOf(Date)
  })

  it('inside a handler, continues the conversation of the message being handled, also across awaits', async () => {
    const incoming = createMessage({ type: 'In', data: null, correlationId: 'conv', traceparent: TRACE }, 'svc')
    const made = await runInMessageContext(incoming, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1))
      return createMessage({ type: 'Out', data: null }, 'svc')
    })
    expect(made).toMatchObject({ correlationId: 'conv', causationId: incoming.id, traceparent: TRACE })
    const explicit = runInMessageContext(incoming, () => createMessage({ type: 'Out', data: null, correlationId: 'mine' }, 'svc'))
    expect(explicit).toMatchObject({ correlationId: 'mine', causationId: incoming.id })
  })

  const bad: [string, Record<string, unknown>, string][] = [
    ['an empty type', { type: '', data: 1 }, 'messages[3].type'],
    ['a key with a line break', { type: 'A', data: 1, partitionKey: 'a\nb' }, 'messages[3].partitionKey'],
    ['a bad traceparent', { type: 'A', data: 1, traceparent: 'nope' }, 'messages[3].traceparent'],
    ['a negative schema version', { type: 'A', data: 1, dataSchemaVersion: -1 }, 'messages[3].dataSchemaVersion'],
    ['no data', { type: 'A' }, 'messages[3].data'],
    ['data JSON cannot hold', { type: 'A', data: { amount: 10n } }, 'messages[3].data'],
  ]
  for (const [what, outgoing, field] of bad) {
    it(`refuses ${what} with INVALID_ARGUMENT naming ${field}`, () => {
      const error = decodeError(() => createMessage(outgoing as never, 'svc', 3))
      expect(isEventfoldError(error, 'INVALID_ARGUMENT')).toBe(true)
      expect(error.field).toBe(field)
    })
  }

  it('the CloudEvent of a message carries the JSON content type and the spec version', () => {
    expect(toCloudEvent(full)).toMatchObject({ specversion: '1.0', datacontenttype: 'application/json', partitionkey: 'o-1' })
  })

  it('createMessageWithJson gives the data exactly as JSON.stringify writes it', () => {
    const { message, json } = createMessageWithJson({ type: 'T', data: { b: [1, 'two', null], a: { nested: true } } }, 's')
    expect(json).toBe(JSON.stringify(message.data))
  })
})

/** What encodeBinary wrote before it was written field by field: toCloudEvent's attributes, prefixed. */
function referenceEncoding(message: Message, prefix: string) {
  const { data, datacontenttype, ...attributes } = toCloudEvent(message)
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(attributes)) headers[`${prefix}${name}`] = String(value)
  return { headers, contentType: datacontenttype, body: Buffer.from(JSON.stringify(data)) }
}

describe('binary encoding, field by field', () => {
  const text = fc.string({ minLength: 1, maxLength: 12 })
  const message: fc.Arbitrary<Message> = fc.record(
    {
      id: text,
      type: text,
      source: text,
      data: fc.jsonValue() as fc.Arbitrary<Message['data']>,
      // Several messages within one millisecond, as a batch is made, and far apart.
      time: fc.oneof(fc.constant(new Date(1_700_000_000_000)), fc.date({ noInvalidDate: true })),
      subject: text,
      correlationId: text,
      causationId: text,
      partitionKey: text,
      dataSchemaVersion: fc.nat(),
      traceparent: fc.constant(TRACE),
    },
    { requiredKeys: ['id', 'type', 'source', 'data', 'correlationId', 'causationId'] },
  )

  it('writes the same headers, in the same order, and the same body as the attributes of toCloudEvent', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 5 }),
        fc.constantFrom<Binding>('amqp', 'nats', 'kafka'),
        (messages, binding) => {
          const prefix = { amqp: 'cloudEvents_', nats: 'ce-', kafka: 'ce_' }[binding]
          for (const m of messages) {
            const expected = referenceEncoding(m, prefix)
            const wire = encodeBinary(m, binding)
            expect(Object.entries(wire.headers)).toEqual(Object.entries(expected.headers))
            expect(wire.contentType).toBe(expected.contentType)
            expect(wire.body.equals(expected.body)).toBe(true)
            expect(encodeBinaryJson(m, binding, JSON.stringify(m.data))).toEqual(wire)
          }
        },
      ),
      { numRuns: 500 },
    )
  })

  it('formats each time itself, whatever was formatted just before', () => {
    const a = new Date('2026-03-04T05:06:07.089Z')
    const b = new Date('2026-03-04T05:06:07.090Z')
    for (const time of [a, a, b, a, b, b])
      expect(encodeBinary({ ...full, time }, 'nats').headers['ce-time']).toBe(time.toISOString())
    expect(() => encodeBinary({ ...full, time: new Date(Number.NaN) }, 'nats')).toThrow(RangeError)
  })
})
