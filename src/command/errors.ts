import { EventfoldError } from '../core/errors.js'
import type { JsonValue } from '../core/types.js'

/**
 * A decider refused a command: a domain outcome, not a failure of the store. `handleCommand` never
 * retries it and appends nothing. Match on `code === 'COMMAND_REJECTED'` and read `reason`.
 */
export class CommandRejectedError extends EventfoldError {
  constructor(
    readonly reason: string,
    readonly details?: JsonValue,
  ) {
    super('COMMAND_REJECTED', `Command rejected: ${reason}`)
  }
}

/**
 * Refuses a command from inside `decide`.
 *
 * @example
 * decide: (command, state) => {
 *   if (state.balance < command.amount) rejectCommand('insufficient funds', { balance: state.balance })
 *   return [{ type: 'Withdrawn', data: { amount: command.amount } }]
 * }
 */
export function rejectCommand(reason: string, details?: JsonValue): never {
  throw new CommandRejectedError(reason, details)
}
