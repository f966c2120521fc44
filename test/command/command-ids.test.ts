import { expect, it } from 'vitest'
import { commandEventId } from '../../src/index.js'

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

it('derives a stable UUIDv8 per command, stream and index, distinct for each', () => {
  const id = commandEventId('cmd-1', 'account-1', 0)
  expect(id).toMatch(UUID_V8)
  expect(commandEventId('cmd-1', 'account-1', 0)).toBe(id)
  const others = [
    commandEventId('cmd-1', 'account-1', 1),
    commandEventId('cmd-1', 'account-2', 0),
    commandEventId('cmd-2', 'account-1', 0),
    // The parts are kept apart: moving characters between them changes the id.
    commandEventId('cmd-1a', 'ccount-1', 0),
    commandEventId('', 'cmd-1account-1', 0),
  ]
  expect(new Set([id, ...others]).size).toBe(6)
  for (const other of others) expect(other).toMatch(UUID_V8)
})
