// Deciders the command tests share: a small bank account, with knobs for snapshots and versions.
import { type Decider, rejectCommand } from '../../src/index.js'

export type AccountEvent =
  | { type: 'Opened'; data: { owner: string } }
  | { type: 'Deposited'; data: { amount: number; balance: number } }
  | { type: 'Withdrawn'; data: { amount: number; balance: number } }

export type AccountCommand =
  | { type: 'Open'; owner: string }
  | { type: 'Deposit'; amount: number; times?: number }
  | { type: 'Withdraw'; amount: number }
  | { type: 'Check' }

export interface AccountState {
  open: boolean
  balance: number
}

export interface AccountOptions {
  version?: number
  /** Keep a snapshot every N events. */
  snapshotEvery?: number
  /** Counts every call of evolve and decide: proof of how much was read. */
  calls?: { evolve: number; decide: number }
}

export function account(options: AccountOptions = {}): Decider<AccountState, AccountCommand, AccountEvent> {
  const calls = options.calls ?? { evolve: 0, decide: 0 }
  return {
    name: 'account',
    version: options.version,
    initialState: () => ({ open: false, balance: 0 }),
    decide(command, state) {
      calls.decide++
      switch (command.type) {
        case 'Open':
          if (state.open) rejectCommand('already open')
          return { type: 'Opened', data: { owner: command.owner } }
        case 'Deposit': {
          if (!state.open) rejectCommand('not open')
          let balance = state.balance
          return Array.from({ length: command.times ?? 1 }, () => {
            balance += command.amount
            return { type: 'Deposited' as const, data: { amount: command.amount, balance } }
          })
        }
        case 'Withdraw':
          if (state.balance < command.amount) rejectCommand('insufficient funds', { balance: state.balance })
          return [{ type: 'Withdrawn', data: { amount: command.amount, balance: state.balance - command.amount } }]
        case 'Check':
          return []
      }
    },
    evolve(state, event) {
      calls.evolve++
      switch (event.type) {
        case 'Opened':
          return { open: true, balance: 0 }
        case 'Deposited':
          return { ...state, balance: state.balance + event.data.amount }
        case 'Withdrawn':
          return { ...state, balance: state.balance - event.data.amount }
      }
    },
    snapshot: options.snapshotEvery === undefined ? undefined : { every: options.snapshotEvery },
  }
}
