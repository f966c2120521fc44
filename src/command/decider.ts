import type { JsonValue, Metadata, RecordedEvent } from '../core/types.js'

/** An event as a decider produces and folds it: a type and its data, optionally metadata. */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  type: Type
  data: Data
  metadata?: Metadata
}

/** A recorded event typed as one of a decider's events (distributes over the union). */
export type RecordedOf<E extends DomainEvent> = E extends DomainEvent
  ? Omit<RecordedEvent, 'type' | 'data'> & { type: E['type']; data: E['data'] }
  : never

/**
 * The write side of one kind of stream, as plain functions: fold the stream's events into state,
 * decide a command on that state. `decide` throws (see `rejectCommand`) to refuse a command.
 *
 * @example
 * type Event = { type: 'Deposited'; data: { amount: number } }
 * type Command = { type: 'Deposit'; amount: number }
 * const account: Decider<{ balance: number }, Command, Event> = {
 *   name: 'account',
 *   initialState: () => ({ balance: 0 }),
 *   decide: (command) => ({ type: 'Deposited', data: { amount: command.amount } }),
 *   evolve: (state, event) => ({ balance: state.balance + event.data.amount }),
 * }
 */
export interface Decider<State, Command, Event extends DomainEvent> {
  /** The decider's name: the default name of its snapshots. */
  name?: string
  /**
   * Version of `evolve` (default 1). Bump it whenever `evolve` (or an upcaster it relies on)
   * changes what state it builds: snapshots made by another version are then ignored.
   */
  version?: number
  initialState: () => State
  decide: (command: Command, state: State) => Event | readonly Event[]
  evolve: (state: State, event: Event) => State
  /** Keep snapshots of the state, so loading reads only the events after the latest one. */
  snapshot?: SnapshotPolicy<State, Event>
}

/** When to take a snapshot (after a successful append) and how to turn state into JSON and back. */
export interface SnapshotPolicy<State, Event extends DomainEvent> {
  /** One snapshot is kept per stream and name. Default: the decider's `name`; one of them is required. */
  name?: string
  /** Take one once this many events were folded since the last snapshot (or the stream's start). */
  every?: number
  /** Take one when this says so (alone, or besides `every`). */
  when?: (context: SnapshotContext<State, Event>) => boolean
  /** State as JSON. Default: the state itself, which must then be plain JSON. */
  serialize?: (state: State) => JsonValue
  /** The inverse of `serialize`. Default: the JSON itself. */
  deserialize?: (json: JsonValue) => State
}

export interface SnapshotContext<State, Event extends DomainEvent> {
  /** State after the events just appended. */
  state: State
  /** Revision of the last of them. */
  revision: bigint
  /** Events folded since the last snapshot, these included. */
  eventsSinceSnapshot: number
  /** The events just appended. */
  events: RecordedOf<Event>[]
}
