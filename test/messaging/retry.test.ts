import { expect, it } from 'vitest'
import { isEventfoldError } from '../../src/index.js'
import { resolveRetry, retryDelayMs } from '../../src/messaging/retry.js'

it('doubles the delay per failed attempt up to the cap; jitter draws below it', () => {
  const exact = resolveRetry({ initialDelayMs: 100, maxDelayMs: 1_000, jitter: false })
  expect([1, 2, 3, 4, 5, 6].map((attempt) => retryDelayMs(exact, attempt))).toEqual([100, 200, 400, 800, 1_000, 1_000])
  const jittered = resolveRetry({ initialDelayMs: 100, maxDelayMs: 1_000, jitter: true })
  for (let attempt = 1; attempt <= 6; attempt++) {
    const ceiling = retryDelayMs(exact, attempt)
    for (let i = 0; i < 50; i++) {
      const delay = retryDelayMs(jittered, attempt)
      expect(delay).toBeGreaterThanOrEqual(0)
      expect(delay).toBeLessThanOrEqual(ceiling)
    }
  }
})

it('has defaults, and refuses a policy that cannot work', () => {
  expect(resolveRetry()).toEqual({ maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 30_000, jitter: true })
  for (const bad of [{ maxAttempts: 0 }, { maxAttempts: 1.5 }, { initialDelayMs: -1 }, { initialDelayMs: 50, maxDelayMs: 10 }]) {
    let error: unknown
    try {
      resolveRetry(bad)
    } catch (e) {
      error = e
    }
    expect(isEventfoldError(error, 'INVALID_ARGUMENT'), JSON.stringify(bad)).toBe(true)
  }
})
