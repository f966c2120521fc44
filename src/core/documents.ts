import { InvalidInputError } from './errors.js'
import { toJson } from './validation.js'

export type FieldValue = string | number | boolean | null

export interface FieldCondition {
  field: string
  value: FieldValue
  /** SQLite's `json_type` name of the value, which the SQLite adapter matches on. */
  type: 'text' | 'integer' | 'real' | 'true' | 'false' | 'null'
}

const FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/
const MAX_LIMIT = 10_000

/** Checks a `find` filter: top-level fields with plain names, scalar values. */
export function fieldConditions(where: unknown): FieldCondition[] {
  if (typeof where !== 'object' || where === null || Array.isArray(where)) {
    throw new InvalidInputError('INVALID_ARGUMENT', 'where must be an object of field: value', 'where')
  }
  return Object.entries(where).map(([field, value]) => {
    if (!FIELD.test(field)) {
      throw new InvalidInputError('INVALID_ARGUMENT', `field '${field}' must be a plain name (letters, digits, _)`, 'where')
    }
    return { field, value, type: typeOf(value, field) }
  })
}

function typeOf(value: unknown, field: string): FieldCondition['type'] {
  if (value === null) return 'null'
  if (value === true) return 'true'
  if (value === false) return 'false'
  if (typeof value === 'string') return 'text'
  if (typeof value === 'number' && Number.isFinite(value)) return Number.isInteger(value) ? 'integer' : 'real'
  throw new InvalidInputError('INVALID_ARGUMENT', `where.${field} must be a string, finite number, boolean or null`, 'where')
}

export function documentLimit(options: { limit?: number } | undefined): number {
  const limit = options?.limit ?? MAX_LIMIT
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new InvalidInputError('INVALID_ARGUMENT', `limit must be a whole number from 1 to ${MAX_LIMIT}`, 'limit')
  }
  return limit
}

export function documentText(id: unknown, doc: unknown): string {
  documentId(id)
  return toJson(doc, 'doc', 'INVALID_ARGUMENT')
}

export function documentId(id: unknown): string {
  if (typeof id !== 'string' || id === '' || id.length > 1000) {
    throw new InvalidInputError('INVALID_ARGUMENT', 'a document id must be a non-empty string of at most 1000 characters', 'id')
  }
  return id
}
