import { expect, it } from 'vitest'
import { EventfoldError, isEventfoldError, WrongExpectedRevisionError } from '../../src/index.js'

it('recognises eventfold errors by their code, and never a driver error that has a code too', () => {
  const wrong = new WrongExpectedRevisionError('s', 1n, 2n)
  expect(isEventfoldError(wrong)).toBe(true)
  expect(isEventfoldError(wrong, 'WRONG_EXPECTED_REVISION')).toBe(true)
  expect(isEventfoldError(wrong, 'STREAM_DELETED')).toBe(false)
  // Another copy of the package: a different class, the same code.
  expect(isEventfoldError({ code: 'STREAM_DELETED', message: 'x' }, 'STREAM_DELETED')).toBe(true)
  for (const foreign of [{ code: '23505' }, { code: 'SQLITE_CONSTRAINT_TRIGGER' }, { code: 'ECONNRESET' }, null, 'x']) {
    expect(isEventfoldError(foreign)).toBe(false)
  }
  expect(new EventfoldError('INVALID_ARGUMENT', 'm')).toMatchObject({ name: 'EventfoldError', code: 'INVALID_ARGUMENT' })
})
