import { InvalidInputError } from './errors.js'

/** An option that must be a whole number ≥ 1; `field` names it in the INVALID_ARGUMENT error. */
export function positiveInteger(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value
  throw new InvalidInputError('INVALID_ARGUMENT', `${field} must be a whole number ≥ 1`, field)
}
