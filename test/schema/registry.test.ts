import type { StandardSchemaV1 } from '@standard-schema/spec'
import { toJsonSchema, toStandardJsonSchema } from '@valibot/to-json-schema'
import * as v from 'valibot'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import {
  createInMemoryEventStore,
  createSchemaRegistry,
  defineEvent,
  type EventOf,
  isEventfoldError,
  type RecordedEvent,
  retireEvent,
} from '../../src/index.js'
import { exportSchemaSet } from '../../src/schema/index.js'
import { collect, failure } from '../conformance/helpers.js'

/** A Standard Schema that validates asynchronously, as the spec allows. */
const asyncPositive: StandardSchemaV1<{ n: number }> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: async (value) => {
      await new Promise((resolve) => setTimeout(resolve, 1))
      const n = (value as { n?: unknown })?.n
      return typeof n === 'number' && n > 0
        ? { value: { n } }
        : { issues: [{ message: 'n must be positive', path: [{ key: 'n' }] }] }
    },
  },
}

describe('defineEvent', () => {
  it('refuses a gap in the upcasters, a bad version and a non-schema, with INVALID_SCHEMA_DEFINITION', async () => {
    const schema = z.object({})
    const gap = await failure(() => defineEvent('E', { version: 3, schema, upcasters: { 2: (d) => d } }))
    expect(gap).toMatchObject({ code: 'INVALID_SCHEMA_DEFINITION', message: 'E: no upcaster from version 1 to 2' })
    expect(await failure(() => defineEvent('E', { version: 0, schema }))).toMatchObject({ code: 'INVALID_SCHEMA_DEFINITION' })
    expect(await failure(() => defineEvent('E', { version: 2, schema, upcasters: { 1: (d) => d, 2: (d) => d } }))).toMatchObject({
      code: 'INVALID_SCHEMA_DEFINITION',
    })
    expect(await failure(() => defineEvent('E', { version: 1, schema: {} as never }))).toMatchObject({
      code: 'INVALID_SCHEMA_DEFINITION',
    })
  })

  it('types payloads: create takes the input, is() narrows read events to the output', () => {
    const Deposited = defineEvent('Deposited', {
      version: 1,
      schema: z.object({ amount: z.number(), note: z.string().default('') }),
    })
    expectTypeOf(Deposited.create).parameter(0).toEqualTypeOf<{ amount: number; note?: string | undefined }>()
    const event = {} as RecordedEvent
    if (Deposited.is(event)) expectTypeOf(event.data.note).toEqualTypeOf<string>()
    const registry = createSchemaRegistry([
      Deposited,
      defineEvent('Opened', { version: 1, schema: z.object({ owner: z.string() }) }),
    ])
    expectTypeOf<EventOf<typeof registry>['type']>().toEqualTypeOf<'Deposited' | 'Opened'>()
  })
})

describe('createSchemaRegistry', () => {
  it('refuses a name defined twice (also as an old name) and a split into an undefined type', async () => {
    const a = defineEvent('A', { version: 1, schema: z.object({}) })
    const b = defineEvent('B', { version: 1, schema: z.object({}), previousTypes: ['A'] })
    expect(await failure(() => createSchemaRegistry([a, b]))).toMatchObject({ code: 'INVALID_SCHEMA_DEFINITION' })
    const retired = retireEvent('C', { version: 1, into: ['Z'], replaceWith: () => [] })
    expect(await failure(() => createSchemaRegistry([a, retired]))).toMatchObject({
      code: 'INVALID_SCHEMA_DEFINITION',
      message: `C: into names 'Z', which is not defined`,
    })
  })

  it('allows unknown types when told to, storing them unchecked', async () => {
    const registry = createSchemaRegistry([defineEvent('A', { version: 1, schema: z.object({}) })], { unknownTypes: 'allow' })
    const store = createInMemoryEventStore({ registry })
    await store.appendToStream('s', [{ type: 'Other', data: { anything: true } }])
    const [event] = await collect(store.readAll())
    expect(event).toMatchObject({ type: 'Other', data: { anything: true } })
    expect(event?.metadata.schemaVersion).toBeUndefined()
  })

  it('awaits asynchronous schemas, and reports the first invalid event by index', async () => {
    const registry = createSchemaRegistry([defineEvent('Counted', { version: 1, schema: asyncPositive })])
    const store = createInMemoryEventStore({ registry })
    await store.appendToStream('s', [{ type: 'Counted', data: { n: 1 } }])
    const error = await failure(
      store.appendToStream('s', [
        { type: 'Counted', data: { n: 2 } },
        { type: 'Counted', data: { n: -1 } },
        { type: 'Counted', data: { n: -2 } },
      ]),
    )
    expect(error).toMatchObject({
      code: 'INVALID_EVENT',
      eventIndex: 1,
      issues: [{ path: ['n'], message: 'n must be positive' }],
    })
    expect(await collect(store.readAll())).toHaveLength(1)
  })

  it('leaves malformed input to the core’s own checks', async () => {
    const store = createInMemoryEventStore({ registry: createSchemaRegistry([]) })
    expect(await failure(store.appendToStream('s', 'nope' as never))).toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(await failure(store.appendToStream('s', [{ type: 42, data: {} } as never]))).toMatchObject({
      code: 'INVALID_EVENT_TYPE',
    })
    const registry = createSchemaRegistry([defineEvent('A', { version: 1, schema: z.object({}) })])
    const bad = await failure(
      createInMemoryEventStore({ registry }).appendToStream('s', [{ type: 'A', data: {}, metadata: [] as never }]),
    )
    expect(bad).toMatchObject({ code: 'INVALID_METADATA' })
  })

  it('works with any Standard Schema: valibot, with or without Standard JSON Schema', async () => {
    const shape = v.object({ amount: v.number(), currency: v.optional(v.picklist(['EUR', 'USD']), 'EUR') })
    const withJsonSchema = defineEvent('Deposited', { version: 1, schema: toStandardJsonSchema(shape) })
    const withOption = defineEvent('Withdrawn', { version: 1, schema: shape, jsonSchema: () => toJsonSchema(shape) })
    const registry = createSchemaRegistry([withJsonSchema, withOption])
    const store = createInMemoryEventStore({ registry })
    await store.appendToStream('s', [withJsonSchema.create({ amount: 1 })])
    expect((await collect(store.readAll()))[0]?.data).toEqual({ amount: 1, currency: 'EUR' })
    const error = await failure(store.appendToStream('s', [{ type: 'Withdrawn', data: { amount: 'x' } }]))
    expect(isEventfoldError(error, 'INVALID_EVENT') && error).toMatchObject({ issues: [{ path: ['amount'] }] })
    const set = exportSchemaSet(registry)
    expect(set.events.Deposited?.versions['1']).toMatchObject({ type: 'object', required: ['amount'] })
    expect(set.events.Withdrawn?.versions['1']).toMatchObject({ type: 'object', required: ['amount'] })
    expect(set.events.Withdrawn?.versions['1']).not.toHaveProperty('$schema')
  })

  it('asks the registry’s converter when a schema has no JSON Schema of its own', async () => {
    const bare = v.object({ n: v.number() })
    const noConverter = createSchemaRegistry([defineEvent('N', { version: 1, schema: bare })])
    expect(await failure(() => exportSchemaSet(noConverter))).toMatchObject({ code: 'INVALID_SCHEMA_DEFINITION' })
    const converted = createSchemaRegistry([defineEvent('N', { version: 1, schema: bare })], {
      toJsonSchema: (schema) => toJsonSchema(schema as typeof bare),
    })
    expect(exportSchemaSet(converted).events.N?.versions['1']).toMatchObject({ properties: { n: { type: 'number' } } })
  })
})
