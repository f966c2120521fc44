import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createSchemaRegistry, defineEvent } from '../../src/index.js'
import {
  COMPATIBILITY_MODES,
  type CompatibilityMode,
  checkCompatibility,
  compareSchemas,
  type JsonSchema,
  publishSchemaSet,
} from '../../src/schema/index.js'

const json = (schema: z.ZodType): JsonSchema => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input' }) as JsonSchema
  return rest
}

interface Case {
  name: string
  older: z.ZodType
  newer: z.ZodType
  /** What each direction finds: undefined when compatible, else the kind and field of the first difference. */
  backward?: { kind: string; path: string }
  forward?: { kind: string; path: string }
}

// Real schema pairs, each the kind of change people make; the expectations are the schema-registry ones.
const cases: Case[] = [
  {
    name: 'field added with a default',
    older: z.object({ amount: z.number() }),
    newer: z.object({ amount: z.number(), currency: z.enum(['EUR', 'USD']).default('EUR') }),
  },
  {
    name: 'required field added',
    older: z.object({ amount: z.number() }),
    newer: z.object({ amount: z.number(), currency: z.string() }),
    backward: { kind: 'REQUIRED_FIELD_MISSING', path: 'currency' },
  },
  {
    name: 'optional field added',
    older: z.object({ amount: z.number() }),
    newer: z.object({ amount: z.number(), note: z.string().optional() }),
  },
  {
    name: 'required field removed',
    older: z.object({ amount: z.number(), note: z.string() }),
    newer: z.object({ amount: z.number() }),
    forward: { kind: 'REQUIRED_FIELD_MISSING', path: 'note' },
  },
  {
    name: 'optional field removed',
    older: z.object({ amount: z.number(), note: z.string().optional() }),
    newer: z.object({ amount: z.number() }),
  },
  {
    name: 'field removed from a strict object',
    older: z.strictObject({ amount: z.number(), note: z.string().optional() }),
    newer: z.strictObject({ amount: z.number() }),
    backward: { kind: 'FIELD_NOT_ALLOWED', path: 'note' },
  },
  {
    name: 'type narrowed (string or number → number)',
    older: z.object({ amount: z.union([z.string(), z.number()]) }),
    newer: z.object({ amount: z.number() }),
    backward: { kind: 'TYPE_NARROWED', path: 'amount' },
  },
  {
    name: 'type narrowed (number → integer)',
    older: z.object({ amount: z.number() }),
    newer: z.object({ amount: z.number().int() }),
    backward: { kind: 'TYPE_NARROWED', path: 'amount' },
  },
  {
    name: 'type changed (string → number)',
    older: z.object({ amount: z.string() }),
    newer: z.object({ amount: z.number() }),
    backward: { kind: 'TYPE_NARROWED', path: 'amount' },
    forward: { kind: 'TYPE_NARROWED', path: 'amount' },
  },
  {
    name: 'enum widened',
    older: z.object({ currency: z.enum(['EUR', 'USD']) }),
    newer: z.object({ currency: z.enum(['EUR', 'USD', 'GBP']) }),
    forward: { kind: 'ENUM_NARROWED', path: 'currency' },
  },
  {
    name: 'enum narrowed',
    older: z.object({ currency: z.enum(['EUR', 'USD', 'GBP']) }),
    newer: z.object({ currency: z.enum(['EUR', 'USD']) }),
    backward: { kind: 'ENUM_NARROWED', path: 'currency' },
  },
  {
    name: 'free string became an enum',
    older: z.object({ currency: z.string() }),
    newer: z.object({ currency: z.enum(['EUR', 'USD']) }),
    backward: { kind: 'ENUM_NARROWED', path: 'currency' },
  },
  {
    name: 'required made optional',
    older: z.object({ amount: z.number(), note: z.string() }),
    newer: z.object({ amount: z.number(), note: z.string().optional() }),
    forward: { kind: 'FIELD_MADE_REQUIRED', path: 'note' },
  },
  {
    // Stored payloads are the schema's output: events written at v1 all carry the default.
    name: 'field with a default made required',
    older: z.object({ amount: z.number(), currency: z.enum(['EUR', 'USD']).default('EUR') }),
    newer: z.object({ amount: z.number(), currency: z.enum(['EUR', 'USD']) }),
  },
  {
    name: 'optional made required',
    older: z.object({ amount: z.number(), note: z.string().optional() }),
    newer: z.object({ amount: z.number(), note: z.string() }),
    backward: { kind: 'FIELD_MADE_REQUIRED', path: 'note' },
  },
  {
    name: 'made nullable',
    older: z.object({ note: z.string() }),
    newer: z.object({ note: z.string().nullable() }),
    forward: { kind: 'TYPE_NARROWED', path: 'note' },
  },
  {
    name: 'range narrowed',
    older: z.object({ amount: z.number().int().min(0) }),
    newer: z.object({ amount: z.number().int().min(1) }),
    backward: { kind: 'RANGE_NARROWED', path: 'amount' },
  },
  {
    name: 'string length limited',
    older: z.object({ note: z.string() }),
    newer: z.object({ note: z.string().max(140) }),
    backward: { kind: 'RANGE_NARROWED', path: 'note' },
  },
  {
    name: 'format added',
    older: z.object({ contact: z.string() }),
    newer: z.object({ contact: z.email() }),
    backward: { kind: 'PATTERN_CHANGED', path: 'contact' },
  },
  {
    name: 'nested field made required',
    older: z.object({ address: z.object({ city: z.string(), zip: z.string().optional() }) }),
    newer: z.object({ address: z.object({ city: z.string(), zip: z.string() }) }),
    backward: { kind: 'FIELD_MADE_REQUIRED', path: 'address.zip' },
  },
  {
    name: 'array item type changed',
    older: z.object({ tags: z.array(z.string()) }),
    newer: z.object({ tags: z.array(z.number()) }),
    backward: { kind: 'TYPE_NARROWED', path: 'tags[]' },
    forward: { kind: 'TYPE_NARROWED', path: 'tags[]' },
  },
  {
    name: 'array of objects gained a required field',
    older: z.object({ lines: z.array(z.object({ sku: z.string() })) }),
    newer: z.object({ lines: z.array(z.object({ sku: z.string(), qty: z.number() })) }),
    backward: { kind: 'REQUIRED_FIELD_MISSING', path: 'lines[].qty' },
  },
  {
    name: 'map values narrowed',
    older: z.object({ totals: z.record(z.string(), z.number()) }),
    newer: z.object({ totals: z.record(z.string(), z.number().int()) }),
    backward: { kind: 'TYPE_NARROWED', path: 'totals.*' },
  },
  {
    name: 'discriminated union gained a variant',
    older: z.object({ method: z.discriminatedUnion('kind', [z.object({ kind: z.literal('card'), last4: z.string() })]) }),
    newer: z.object({
      method: z.discriminatedUnion('kind', [
        z.object({ kind: z.literal('card'), last4: z.string() }),
        z.object({ kind: z.literal('iban'), iban: z.string() }),
      ]),
    }),
    forward: { kind: 'ENUM_NARROWED', path: 'method.kind' },
  },
]

const expectedFor = (c: Case, mode: CompatibilityMode) => {
  const backward = mode.startsWith('BACKWARD') || mode.startsWith('FULL') ? c.backward : undefined
  const forward = mode.startsWith('FORWARD') || mode.startsWith('FULL') ? c.forward : undefined
  return { backward, forward }
}

describe('compareSchemas on real schema pairs', () => {
  for (const c of cases) {
    it.each(['BACKWARD', 'FORWARD', 'FULL', 'NONE'] as const)(`${c.name}: %s`, (mode) => {
      const found = compareSchemas(json(c.older), json(c.newer), mode, { older: 'v1', newer: 'v2' })
      const expected = expectedFor(c, mode)
      for (const direction of ['backward', 'forward'] as const) {
        const mine = found.filter((d) => d.direction === direction)
        const want = expected[direction]
        if (want === undefined) expect(mine, `${direction} should be compatible`).toEqual([])
        else expect(mine, `${direction} differences`).toContainEqual(expect.objectContaining({ ...want, direction }))
      }
      expect(found.length === 0).toBe(expected.backward === undefined && expected.forward === undefined)
    })
  }

  it('says which side allows what, by version', () => {
    const [difference] = compareSchemas(
      json(z.object({ currency: z.enum(['EUR', 'USD', 'GBP']) })),
      json(z.object({ currency: z.enum(['EUR', 'USD']) })),
      'BACKWARD',
      { older: 'v1', newer: 'v2' },
    )
    expect(difference?.message).toBe(`'currency': v1 allows "GBP", which v2 does not accept`)
  })

  it('follows recursive $refs without looping', () => {
    type Node = { name: string; children: Node[] }
    const node: z.ZodType<Node> = z.lazy(() => z.object({ name: z.string(), children: z.array(node) }))
    const older = json(z.object({ tree: node }))
    const found = compareSchemas(older, older, 'FULL')
    expect(found).toEqual([])
  })
})

describe('checkCompatibility against a published set', () => {
  const v1 = z.object({ amount: z.number() })
  const v2 = z.object({ amount: z.number(), currency: z.enum(['EUR', 'USD']).default('EUR') })
  const at = (version: number, schema: z.ZodType, upcasters = {}) =>
    createSchemaRegistry([defineEvent('Deposited', { version, schema, upcasters })])
  const up = { 1: (d: object) => ({ ...d, currency: 'EUR' }), 2: (d: object) => d }
  const publishedV1 = publishSchemaSet(at(1, v1), undefined)
  const publishedV2 = publishSchemaSet(at(2, v2, { 1: up[1] }), publishedV1)

  it('passes a compatible new version and reports it evolved', () => {
    const report = checkCompatibility(at(2, v2, { 1: up[1] }), publishedV1, { mode: 'BACKWARD' })
    expect(report).toMatchObject({
      ok: true,
      events: [{ event: 'Deposited', status: 'evolved', currentVersion: 2, publishedVersion: 1 }],
    })
  })

  it('checks only the latest version, or every one when transitive', () => {
    // v2 dropped GBP (published under NONE); v3 only adds a field: fine against v2, not against v1.
    const currencies = (...list: [string, ...string[]]) => z.object({ currency: z.enum(list) })
    const history = publishSchemaSet(
      at(2, currencies('EUR', 'USD'), { 1: up[1] }),
      publishSchemaSet(at(1, currencies('EUR', 'USD', 'GBP')), undefined),
    )
    const registry = at(3, currencies('EUR', 'USD').extend({ note: z.string().optional() }), up)
    expect(checkCompatibility(registry, history, { mode: 'BACKWARD' }).issues).toEqual([])
    const transitive = checkCompatibility(registry, history, { mode: 'BACKWARD_TRANSITIVE' })
    expect(transitive.ok).toBe(false)
    expect(transitive.issues).toEqual([
      expect.objectContaining({
        event: 'Deposited',
        kind: 'ENUM_NARROWED',
        direction: 'backward',
        currentVersion: 3,
        againstVersion: 1,
        path: 'currency',
      }),
    ])
  })

  it('FORWARD_TRANSITIVE keeps the readers of every old version working', () => {
    // v1 readers require note, v2 made it optional, v3 drops it: v2 readers cope, v1 readers do not.
    const history = publishSchemaSet(
      at(2, z.object({ amount: z.number(), note: z.string().optional() }), { 1: up[1] }),
      publishSchemaSet(at(1, z.object({ amount: z.number(), note: z.string() })), undefined),
    )
    const registry = at(3, z.object({ amount: z.number() }), up)
    expect(checkCompatibility(registry, history, { mode: 'FORWARD' }).ok).toBe(true)
    expect(checkCompatibility(registry, history, { mode: 'FORWARD_TRANSITIVE' }).issues).toEqual([
      expect.objectContaining({ kind: 'REQUIRED_FIELD_MISSING', direction: 'forward', againstVersion: 1, path: 'note' }),
    ])
  })

  it.each(COMPATIBILITY_MODES)('reports every mode it is asked for: %s', (mode) => {
    // v2 drops amount for cents: breaks both ways, against every version.
    const cents = z.object({ cents: z.number().int() })
    const report = checkCompatibility(at(2, cents, { 1: () => ({}) }), publishedV1, { mode })
    const directions = new Set(report.issues.map((i) => i.direction))
    expect(directions.has('backward')).toBe(mode.startsWith('BACKWARD') || mode.startsWith('FULL'))
    expect(directions.has('forward')).toBe(mode.startsWith('FORWARD') || mode.startsWith('FULL'))
    expect(report.ok).toBe(mode === 'NONE')
  })

  it('refuses a changed schema without a version bump, naming the field', () => {
    const report = checkCompatibility(at(1, z.object({ amount: z.number(), note: z.string() })), publishedV1)
    expect(report.ok).toBe(false)
    expect(report.issues).toEqual([
      expect.objectContaining({ event: 'Deposited', kind: 'CHANGED_WITHOUT_VERSION_BUMP', currentVersion: 1 }),
    ])
    expect(report.issues[0]?.message).toContain('note')
  })

  it('refuses it even under NONE, and even when the change is compatible', () => {
    const report = checkCompatibility(at(1, z.object({ amount: z.number(), note: z.string().optional() })), publishedV1, {
      mode: 'NONE',
    })
    expect(report.issues.map((i) => i.kind)).toEqual(['CHANGED_WITHOUT_VERSION_BUMP'])
  })

  it('ignores edits to descriptions: they change no payload', () => {
    const described = z.object({ amount: z.number().describe('in euros') }).describe('money in')
    expect(checkCompatibility(at(1, described), publishedV1).ok).toBe(true)
  })

  it('refuses a version that went backwards and an event that disappeared', () => {
    const other = createSchemaRegistry([defineEvent('Withdrawn', { version: 1, schema: v1 })])
    expect(checkCompatibility(other, publishedV1).issues).toEqual([
      expect.objectContaining({ event: 'Deposited', kind: 'EVENT_REMOVED' }),
    ])
    expect(checkCompatibility(at(1, v1), publishedV2).issues).toEqual([
      expect.objectContaining({ event: 'Deposited', kind: 'VERSION_DECREASED', currentVersion: 1, againstVersion: 2 }),
    ])
  })

  it('lets a definition choose its own mode', () => {
    const breaking = defineEvent('Deposited', {
      version: 2,
      schema: z.object({ cents: z.number().int() }),
      upcasters: { 1: (d: { amount: number }) => ({ cents: Math.round(d.amount * 100) }) },
      compatibility: 'NONE',
    })
    expect(checkCompatibility(createSchemaRegistry([breaking]), publishedV1, { mode: 'FULL' })).toMatchObject({
      ok: true,
      events: [{ mode: 'NONE', status: 'evolved' }],
    })
  })

  it('follows a rename: the history published under the old name is the new name’s', () => {
    const renamed = defineEvent('FundsDeposited', {
      version: 2,
      schema: v2,
      previousTypes: ['Deposited'],
      upcasters: { 1: up[1] },
    })
    const report = checkCompatibility(createSchemaRegistry([renamed]), publishedV1, { mode: 'FULL' })
    expect(report).toMatchObject({ ok: true, events: [{ event: 'FundsDeposited', status: 'evolved', publishedVersion: 1 }] })
    const next = publishSchemaSet(createSchemaRegistry([renamed]), publishedV1)
    expect(Object.keys(next.events)).toEqual(['FundsDeposited'])
    expect(Object.keys(next.events.FundsDeposited?.versions ?? {})).toEqual(['1', '2'])
    expect(next.events.FundsDeposited?.previousTypes).toEqual(['Deposited'])
  })
})
