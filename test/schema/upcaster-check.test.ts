import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createSchemaRegistry, defineEvent, retireEvent } from '../../src/index.js'
import { arbitraryFromJsonSchema, checkUpcasters, type JsonSchema, publishSchemaSet } from '../../src/schema/index.js'
import { addCurrency, FundsDeposited, v1, v2, v3 } from './fixtures.js'

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input' }) as JsonSchema
const published = publishSchemaSet(v2, publishSchemaSet(v1, undefined))

describe('arbitraryFromJsonSchema', () => {
  const schemas: Record<string, z.ZodType> = {
    scalars: z.object({ n: z.number(), i: z.number().int().min(-5).max(5), s: z.string().min(2).max(4), b: z.boolean() }),
    optional: z.object({ a: z.string().optional(), b: z.number().nullable() }),
    enums: z.object({ c: z.enum(['EUR', 'USD']), k: z.literal('x'), d: z.enum(['a', 'b']).default('a') }),
    formats: z.object({ e: z.email(), u: z.uuid(), t: z.iso.datetime(), p: z.string().regex(/^[A-Z]{3}-\d{2}$/) }),
    nested: z.object({
      lines: z
        .array(z.object({ sku: z.string(), qty: z.number().int().positive() }))
        .min(1)
        .max(3),
    }),
    unions: z.object({
      m: z.discriminatedUnion('kind', [z.object({ kind: z.literal('a'), x: z.number() }), z.object({ kind: z.literal('b') })]),
    }),
    maps: z.object({ totals: z.record(z.string(), z.number().multipleOf(5)) }),
    bounds: z.object({ gt: z.number().gt(0).lt(1), cents: z.number().int().nonnegative() }),
  }
  it.each(Object.entries(schemas))('samples only payloads the schema accepts: %s', (_, schema) => {
    fc.assert(
      fc.property(arbitraryFromJsonSchema(json(schema)), (payload) => schema.safeParse(payload).success),
      { numRuns: 200 },
    )
  })
})

describe('checkUpcasters', () => {
  it('passes chains that hold: 1→2→3 under an old name, and a split', async () => {
    const report = await checkUpcasters(v3, published, { samples: 50 })
    expect(report.ok).toBe(true)
    expect(
      report.results.map(({ event, fromVersion, into, status, runs }) => ({ event, fromVersion, into, status, runs })),
    ).toEqual([
      { event: 'Deposited', fromVersion: 1, into: ['FundsDeposited'], status: 'passed', runs: 50 },
      { event: 'Deposited', fromVersion: 2, into: ['FundsDeposited'], status: 'passed', runs: 50 },
      { event: 'OpenedWithDeposit', fromVersion: 1, into: ['Opened', 'FundsDeposited'], status: 'passed', runs: 50 },
    ])
  })

  // Forgets to round: 2.5 € is fine, 0.015 € is not a whole number of cents.
  const unrounded = (old: { amount: number; currency: string }) => ({ cents: old.amount * 100, currency: old.currency })
  const withUpcaster = (two: (old: { amount: number; currency: string }) => unknown) =>
    createSchemaRegistry([
      defineEvent('FundsDeposited', {
        version: 3,
        previousTypes: ['Deposited'],
        schema: FundsDeposited.schema,
        upcasters: { 1: addCurrency, 2: two },
      }),
      ...v3.definitions.filter((d) => d.type !== 'FundsDeposited'),
      ...v3.retired,
    ])

  it('catches a deliberately wrong upcaster, with a counterexample and the field', async () => {
    const report = await checkUpcasters(withUpcaster(unrounded), published, { samples: 200 })
    expect(report.ok).toBe(false)
    const failed = report.results.filter((r) => r.status === 'failed')
    // Both chains through the bad step fail: from v1, from v2, and the split (its deposit is written at v2).
    expect(failed.map((r) => `${r.event} v${r.fromVersion}`)).toEqual(['Deposited v1', 'Deposited v2', 'OpenedWithDeposit v1'])
    const [first] = failed
    expect(first?.reason).toContain('FundsDeposited v3 rejects the upcast payload at cents')
    expect(first?.issues?.[0]?.path).toEqual(['cents'])
    const { amount } = (first?.counterexample ?? {}) as { amount: number }
    expect(Number.isInteger(amount * 100)).toBe(false)
    expect(first?.upcast).toEqual({ cents: amount * 100, currency: 'EUR' })
  })

  it('reproduces a failure from its seed', async () => {
    const registry = withUpcaster(unrounded)
    const once = await checkUpcasters(registry, published, { samples: 200, seed: 42 })
    const twice = await checkUpcasters(registry, published, { samples: 200, seed: 42 })
    expect(twice.results).toEqual(once.results)
    expect(once.results[0]?.seed).toBe(42)
  })

  it('reports an upcaster that throws, forgets a field, or a split into the wrong type', async () => {
    const throwing = await checkUpcasters(
      withUpcaster(() => {
        throw new Error('not yet')
      }),
      published,
      { samples: 10 },
    )
    expect(throwing.results[0]?.reason).toContain('the upcaster from version 2 threw: not yet')
    const forgetful = await checkUpcasters(
      withUpcaster((old) => ({ cents: Math.round(old.amount * 100) })),
      published,
      { samples: 10 },
    )
    expect(forgetful.results[0]?.issues?.[0]?.path).toEqual(['currency'])
    const wrongSplit = createSchemaRegistry([
      ...v3.definitions,
      retireEvent('OpenedWithDeposit', {
        version: 1,
        into: ['Opened'],
        replaceWith: (old: { owner: string }) => [{ type: 'Noted', data: { text: old.owner } }],
      }),
    ])
    const split = await checkUpcasters(wrongSplit, published, { samples: 10 })
    expect(split.results.find((r) => r.event === 'OpenedWithDeposit')?.reason).toContain(`replacement #0 has type 'Noted'`)
  })

  it('skips versions with no published JSON Schema, and says so', async () => {
    const report = await checkUpcasters(v3, undefined, { samples: 10 })
    expect(report.ok).toBe(true)
    expect(report.results.every((r) => r.status === 'skipped' && r.reason?.startsWith('no published JSON Schema'))).toBe(true)
  })
})
