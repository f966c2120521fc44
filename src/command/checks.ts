import { InvalidInputError } from '../core/errors.js'
import type { Decider, DomainEvent } from './decider.js'

/** Checks a decider's shape up front, so a mistake fails the first command rather than a later snapshot. */
export function checkDecider<S, C, E extends DomainEvent>(decider: Decider<S, C, E>): void {
  const fail = (field: string, why: string): never => {
    throw new InvalidInputError('INVALID_ARGUMENT', `decider.${field} ${why}`, `decider.${field}`)
  }
  for (const key of ['initialState', 'decide', 'evolve'] as const) {
    if (typeof decider?.[key] !== 'function') fail(key, 'must be a function')
  }
  if (decider.version !== undefined && !Number.isSafeInteger(decider.version)) fail('version', 'must be a whole number')
  const policy = decider.snapshot
  if (policy === undefined) return
  if (typeof (policy.name ?? decider.name) !== 'string') fail('name', 'is needed to keep snapshots (or snapshot.name)')
  if (policy.every !== undefined && !(Number.isSafeInteger(policy.every) && policy.every >= 1)) {
    fail('snapshot.every', 'must be a whole number ≥ 1')
  }
  if (policy.every === undefined && policy.when === undefined) fail('snapshot', 'needs every or when')
}

export function checkCommandId(commandId: unknown): string | undefined {
  if (commandId === undefined || (typeof commandId === 'string' && commandId.length > 0)) return commandId
  throw new InvalidInputError('INVALID_ARGUMENT', 'commandId must be a non-empty string', 'commandId')
}
