import { AssertionError, deepStrictEqual } from 'node:assert/strict'
import type { Decider, DomainEvent } from '../command/decider.js'
import { handleCommand } from '../command/handle-command.js'
import type { EventData, EventStore } from '../core/types.js'
import { uuidv7 } from '../core/uuid.js'
import { createInMemoryEventStore } from '../memory/event-store.js'

/** What `thenThrows` accepts: an eventfold error code, an error class, or a predicate. */
export type ErrorMatch = string | (abstract new (...args: never[]) => unknown) | ((error: unknown) => boolean)

type Outcome<Event> = { ok: true; events: readonly Event[] } | { ok: false; error: unknown }

/** The checks a specification ends with; `R` is `void`, or a promise of it when run through a store. */
export interface Then<Event extends DomainEvent, R> {
  /**
   * The command produced exactly these events (compared by `type` and `data`, in order). Not named
   * `then`: an object with a `then` method is a thenable, and `await`ing one by mistake would run it.
   */
  thenEvents(expected: Event | readonly Event[]): R
  /** The command was accepted and produced no event. */
  thenNothingHappened(): R
  /** The command failed with an error that matches (any error, when no match is given). */
  thenThrows(match?: ErrorMatch): R
  /** The decider refused the command (`rejectCommand`), with this reason if one is given. */
  thenRejects(reason?: string): R
}

export interface When<Command, Event extends DomainEvent, R> {
  when(command: Command): Then<Event, R>
}

export interface Given<Command, Event extends DomainEvent, R> extends When<Command, Event, R> {
  /** The events already in the stream. */
  given(events: readonly Event[]): When<Command, Event, R>
}

export interface DeciderSpec<Command, Event extends DomainEvent> extends Given<Command, Event, void> {
  /**
   * The same specification run for real: the given events are appended to a fresh stream of the
   * store (a new in-memory store by default) and the command goes through `handleCommand`, so
   * events are stored and read back as JSON, and the decider's snapshot policy runs too.
   */
  inStore(store?: EventStore): Given<Command, Event, Promise<void>>
}

/**
 * Given/when/then for deciders, with any test runner: a failed check throws an `AssertionError`.
 *
 * @example
 * const spec = DeciderSpecification.for(account)
 * spec.given([{ type: 'Opened', data: { owner: 'Ada' } }]).when({ type: 'Deposit', amount: 5 })
 *   .thenEvents([{ type: 'Deposited', data: { amount: 5 } }])
 * spec.when({ type: 'Deposit', amount: 5 }).thenRejects('account not open')
 * await spec.inStore().given([]).when({ type: 'Open', owner: 'Ada' }).thenEvents([{ type: 'Opened', data: { owner: 'Ada' } }])
 */
export const DeciderSpecification = {
  for<State, Command, Event extends DomainEvent>(decider: Decider<State, Command, Event>): DeciderSpec<Command, Event> {
    const pure = (given: readonly Event[]) => (command: Command) => checks<Event>(decideOn(decider, given, command))
    return {
      given: (events) => ({ when: pure(events) }),
      when: pure([]),
      inStore(store) {
        const stored = (given: readonly Event[]) => (command: Command) => asyncChecks(runInStore(decider, store, given, command))
        return { given: (events) => ({ when: stored(events) }), when: stored([]) }
      },
    }
  },
}

function decideOn<State, Command, Event extends DomainEvent>(
  decider: Decider<State, Command, Event>,
  given: readonly Event[],
  command: Command,
): () => Outcome<Event> {
  return () => {
    try {
      const state = given.reduce(decider.evolve, decider.initialState())
      const events = decider.decide(command, state)
      return { ok: true, events: Array.isArray(events) ? events : [events as Event] }
    } catch (error) {
      return { ok: false, error }
    }
  }
}

/** Runs the command in a store and checks that the store holds exactly what the outcome says. */
function runInStore<State, Command, Event extends DomainEvent>(
  decider: Decider<State, Command, Event>,
  given: EventStore | undefined,
  history: readonly Event[],
  command: Command,
): () => Promise<Outcome<Event>> {
  return async () => {
    const store = given ?? createInMemoryEventStore()
    const streamId = `spec-${uuidv7()}`
    try {
      if (history.length > 0) await store.appendToStream(streamId, history as readonly EventData[] as EventData[])
      let outcome: Outcome<Event>
      try {
        const result = await handleCommand(store, streamId, command, decider, { retries: 0 })
        outcome = { ok: true, events: result.events as unknown as Event[] }
      } catch (error) {
        outcome = { ok: false, error }
      }
      const stored: Event[] = []
      for await (const event of store.readStream(streamId)) stored.push(event as unknown as Event)
      const appended = outcome.ok ? outcome.events : []
      deepStrictEqual(shape(stored), shape([...history, ...appended]), 'the stream holds the given events and those recorded')
      return outcome
    } finally {
      if (given === undefined) await store.close()
    }
  }
}

const shape = (events: readonly DomainEvent[]) => events.map(({ type, data }) => ({ type, data }))

const list = <Event>(events: Event | readonly Event[]): readonly Event[] => (Array.isArray(events) ? events : [events as Event])

function expectEvents<Event extends DomainEvent>(outcome: Outcome<Event>, expected: readonly Event[]): void {
  if (!outcome.ok) throw outcome.error
  deepStrictEqual(shape(outcome.events), shape(expected), 'the command produced other events')
}

function expectError<Event>(outcome: Outcome<Event>, match: ErrorMatch | undefined): void {
  if (outcome.ok) {
    throw new AssertionError({ message: 'expected the command to fail, but it produced events', actual: outcome.events })
  }
  const { error } = outcome
  const ok =
    match === undefined ||
    (typeof match === 'string' && (error as { code?: unknown })?.code === match) ||
    (typeof match === 'function' && isClass(match) && error instanceof match) ||
    (typeof match === 'function' && !isClass(match) && (match as (error: unknown) => boolean)(error) === true)
  if (!ok) throw new AssertionError({ message: `the error does not match: ${String(error)}`, actual: error, expected: match })
}

function expectRejection<Event>(outcome: Outcome<Event>, reason: string | undefined): void {
  expectError(outcome, 'COMMAND_REJECTED')
  const actual = (outcome as { error: { reason?: unknown } }).error.reason
  if (reason !== undefined && actual !== reason) {
    throw new AssertionError({ message: 'the command was rejected for another reason', actual, expected: reason })
  }
}

// Arrow functions have no prototype; a class (or function constructor) does.
const isClass = (fn: unknown): boolean => typeof fn === 'function' && fn.prototype !== undefined

function checks<Event extends DomainEvent>(run: () => Outcome<Event>): Then<Event, void> {
  return {
    thenEvents: (expected) => expectEvents(run(), list(expected)),
    thenNothingHappened: () => expectEvents(run(), []),
    thenThrows: (match) => expectError(run(), match),
    thenRejects: (reason) => expectRejection(run(), reason),
  }
}

function asyncChecks<Event extends DomainEvent>(run: () => Promise<Outcome<Event>>): Then<Event, Promise<void>> {
  return {
    thenEvents: async (expected) => expectEvents(await run(), list(expected)),
    thenNothingHappened: async () => expectEvents(await run(), []),
    thenThrows: async (match) => expectError(await run(), match),
    thenRejects: async (reason) => expectRejection(await run(), reason),
  }
}
