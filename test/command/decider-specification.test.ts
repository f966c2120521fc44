import { AssertionError } from 'node:assert'
import { describe, expect, it } from 'vitest'
import { CommandRejectedError, createInMemoryEventStore } from '../../src/index.js'
import { DeciderSpecification } from '../../src/testing/index.js'
import { type AccountEvent, account } from '../conformance/deciders.js'

const opened: AccountEvent = { type: 'Opened', data: { owner: 'Ada' } }
const spec = DeciderSpecification.for(account())

/** The assertion error a check throws; fails the test if it passes. */
async function assertionFailure(check: () => unknown): Promise<AssertionError> {
  try {
    await check()
  } catch (error) {
    expect(error).toBeInstanceOf(AssertionError)
    return error as AssertionError
  }
  return expect.unreachable('expected the check to fail')
}

describe('DeciderSpecification', () => {
  it('passes when the decider produces the expected events, fails with an AssertionError otherwise', async () => {
    spec
      .given([opened])
      .when({ type: 'Deposit', amount: 5, times: 2 })
      .thenEvents([
        { type: 'Deposited', data: { amount: 5, balance: 5 } },
        { type: 'Deposited', data: { amount: 5, balance: 10 } },
      ])
    spec.when({ type: 'Open', owner: 'Ada' }).thenEvents(opened)
    spec.given([opened]).when({ type: 'Check' }).thenNothingHappened()
    await assertionFailure(() => spec.given([opened]).when({ type: 'Deposit', amount: 5 }).thenEvents([]))
    await assertionFailure(() => spec.given([opened]).when({ type: 'Deposit', amount: 5 }).thenNothingHappened())
  })

  it('checks rejections and errors, by reason, code, class or predicate', async () => {
    spec.when({ type: 'Deposit', amount: 1 }).thenRejects('not open')
    spec.when({ type: 'Deposit', amount: 1 }).thenRejects()
    spec.when({ type: 'Deposit', amount: 1 }).thenThrows('COMMAND_REJECTED')
    spec.when({ type: 'Deposit', amount: 1 }).thenThrows(CommandRejectedError)
    spec.when({ type: 'Deposit', amount: 1 }).thenThrows((error) => (error as CommandRejectedError).reason === 'not open')
    await assertionFailure(() => spec.when({ type: 'Deposit', amount: 1 }).thenRejects('insufficient funds'))
    await assertionFailure(() => spec.when({ type: 'Deposit', amount: 1 }).thenThrows('STREAM_DELETED'))
    await assertionFailure(() => spec.when({ type: 'Deposit', amount: 1 }).thenThrows(TypeError))
    await assertionFailure(() => spec.when({ type: 'Open', owner: 'Ada' }).thenThrows())
    // An unexpected rejection surfaces as itself, not as a mismatch.
    expect(() => spec.when({ type: 'Deposit', amount: 1 }).thenEvents([])).toThrow(CommandRejectedError)
  })

  it('runs the same checks through handleCommand on an in-memory store', async () => {
    const stored = spec.inStore()
    await stored
      .given([opened])
      .when({ type: 'Deposit', amount: 2 })
      .thenEvents([{ type: 'Deposited', data: { amount: 2, balance: 2 } }])
    await stored.given([opened]).when({ type: 'Open', owner: 'Ada' }).thenRejects('already open')
    await stored.when({ type: 'Check' }).thenNothingHappened()
    await assertionFailure(() => stored.given([opened]).when({ type: 'Check' }).thenEvents(opened))
  })

  it('runs against a store the test provides, and catches state that does not survive JSON', async () => {
    const store = createInMemoryEventStore()
    try {
      // Data that is not JSON is refused by the store: the in-store run reports it, the pure one cannot.
      const bad = DeciderSpecification.for({
        ...account(),
        decide: () => [{ type: 'Deposited', data: { amount: Number.NaN, balance: 0 } } as AccountEvent],
      })
      bad
        .given([opened])
        .when({ type: 'Check' })
        .thenEvents([{ type: 'Deposited', data: { amount: Number.NaN, balance: 0 } }])
      await bad.inStore(store).given([opened]).when({ type: 'Check' }).thenThrows('INVALID_EVENT_DATA')
    } finally {
      await store.close()
    }
  })
})
