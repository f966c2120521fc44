import { InvalidInputError } from '../core/errors.js'

export interface BackoffOptions {
  /** Ceiling of the first delay, in ms. Default 5. */
  initialDelayMs?: number
  /** Largest ceiling, in ms. Default 250. */
  maxDelayMs?: number
}

export interface Backoff {
  retries: number
  /** The delay before retry number `attempt` (0-based). */
  delayMs(attempt: number): number
}

const DEFAULT_RETRIES = 10

function check(value: unknown, field: string, integer: boolean): void {
  const ok = typeof value === 'number' && value >= 0 && (integer ? Number.isSafeInteger(value) : Number.isFinite(value))
  if (!ok) throw new InvalidInputError('INVALID_ARGUMENT', `${field} must be a ${integer ? 'whole ' : ''}number ≥ 0`, field)
}

/**
 * Exponential backoff with full jitter: each delay is drawn uniformly below a ceiling that doubles
 * per attempt. The jitter is what matters under contention: writers that conflicted together would
 * otherwise retry together and conflict again.
 */
export function backoff(retries = DEFAULT_RETRIES, options: BackoffOptions = {}): Backoff {
  const { initialDelayMs = 5, maxDelayMs = 250 } = options
  check(retries, 'retries', true)
  check(initialDelayMs, 'backoff.initialDelayMs', false)
  check(maxDelayMs, 'backoff.maxDelayMs', false)
  return {
    retries,
    delayMs: (attempt) => Math.random() * Math.min(maxDelayMs, initialDelayMs * 2 ** attempt),
  }
}
