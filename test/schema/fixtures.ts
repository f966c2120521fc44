import { z } from 'zod'
import type { EventSchemaPort } from '../../src/index.js'
import { createSchemaRegistry, defineEvent, retireEvent } from '../../src/index.js'

/**
 * One account's events through three deployments of the code:
 * - v1: `Deposited { amount }` (euros), `OpenedWithDeposit { owner, amount }`.
 * - v2: `Deposited` gains `currency` (default EUR).
 * - v3: `Deposited` is renamed `FundsDeposited` and counts `cents`; `OpenedWithDeposit` is retired,
 *   split into `Opened` and `FundsDeposited`.
 */
const Opened = defineEvent('Opened', { version: 1, schema: z.object({ owner: z.string() }) })
const Noted = defineEvent('Noted', { version: 1, schema: z.object({ text: z.string() }) })
const OpenedWithDeposit = defineEvent('OpenedWithDeposit', {
  version: 1,
  schema: z.object({ owner: z.string(), amount: z.number() }),
})

const currency = z.enum(['EUR', 'USD'])
export const addCurrency = (old: { amount: number }) => ({ ...old, currency: 'EUR' })
export const toCents = (old: { amount: number; currency: string }) => ({
  cents: Math.round(old.amount * 100),
  currency: old.currency,
})

export const v1 = createSchemaRegistry([
  defineEvent('Deposited', { version: 1, schema: z.object({ amount: z.number() }) }),
  Opened,
  OpenedWithDeposit,
  Noted,
])

export const v2 = createSchemaRegistry([
  defineEvent('Deposited', {
    version: 2,
    schema: z.object({ amount: z.number(), currency: currency.default('EUR') }),
    upcasters: { 1: addCurrency },
  }),
  Opened,
  OpenedWithDeposit,
  Noted,
])

export const FundsDeposited = defineEvent('FundsDeposited', {
  version: 3,
  previousTypes: ['Deposited'],
  schema: z.object({ cents: z.number().int(), currency }),
  upcasters: { 1: addCurrency, 2: toCents },
})

export const v3 = createSchemaRegistry([
  FundsDeposited,
  Opened,
  Noted,
  retireEvent('OpenedWithDeposit', {
    version: 1,
    into: ['Opened', 'FundsDeposited'],
    replaceWith: (old: { owner: string; amount: number }) => [
      { type: 'Opened', data: { owner: old.owner } },
      // Written at FundsDeposited's version 2: its own upcaster turns it into cents.
      { type: 'FundsDeposited', version: 2, data: { amount: old.amount, currency: 'EUR' } },
    ],
  }),
])

/** A store option that a test redeploys: the code at v1 writes, the code at v3 reads the same storage. */
export function deployable(): EventSchemaPort & { deploy(registry: EventSchemaPort | undefined): void } {
  let current: EventSchemaPort | undefined
  return {
    deploy(registry) {
      current = registry
    },
    prepareAppend: (events) => current?.prepareAppend(events) ?? [...events],
    upcast: (event) => current?.upcast(event) ?? [event],
    storedTypesOf: (types) => current?.storedTypesOf(types) ?? [...types],
  }
}
