import { InvalidInputError } from '../core/errors.js'
import type { RetryPolicy, SubscribeOptions } from './types.js'

export type ResolvedRetry = Required<RetryPolicy>

const DEFAULT_RETRY: ResolvedRetry = { maxAttempts: 5, initialDelayMs: 100, maxDelayMs: 30_000, jitter: true }

function check(ok: boolean, field: string, rule: string): void {
  if (!ok) throw new InvalidInputError('INVALID_ARGUMENT', `${field} must be ${rule}`, field)
}

export function resolveRetry(policy: RetryPolicy = {}): ResolvedRetry {
  const retry = { ...DEFAULT_RETRY, ...policy }
  check(Number.isSafeInteger(retry.maxAttempts) && retry.maxAttempts >= 1, 'retry.maxAttempts', 'a whole number ≥ 1')
  check(Number.isFinite(retry.initialDelayMs) && retry.initialDelayMs >= 0, 'retry.initialDelayMs', 'a number ≥ 0')
  check(Number.isFinite(retry.maxDelayMs) && retry.maxDelayMs >= retry.initialDelayMs, 'retry.maxDelayMs', '≥ initialDelayMs')
  return retry
}

/** The wait before the attempt after `failedAttempt` (1-based). */
export function retryDelayMs(retry: ResolvedRetry, failedAttempt: number): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (failedAttempt - 1))
  return Math.round(retry.jitter ? Math.random() * ceiling : ceiling)
}

export interface ResolvedSubscription extends SubscribeOptions {
  concurrency: number
  retry: ResolvedRetry
}

/** Checks what every transport checks alike. Group names end up in queue and subject names: keep them plain. */
export function resolveSubscription(options: SubscribeOptions): ResolvedSubscription {
  check(typeof options.group === 'string' && /^[A-Za-z0-9_-]{1,100}$/.test(options.group), 'group', 'letters, digits, _ or -')
  check(typeof options.handler === 'function', 'handler', 'a function')
  const concurrency = options.concurrency ?? 1
  check(Number.isSafeInteger(concurrency) && concurrency >= 1, 'concurrency', 'a whole number ≥ 1')
  if (options.types !== undefined) {
    check(Array.isArray(options.types) && options.types.length > 0, 'types', 'a non-empty list')
    for (const type of options.types) check(typeof type === 'string' && type.length > 0, 'types', 'non-empty strings')
  }
  return { ...options, concurrency, retry: resolveRetry(options.retry) }
}

/** What a dead letter records of an error, whatever was thrown. */
export { errorSummary as describeError } from '../core/errors.js'
