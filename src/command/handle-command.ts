import { isEventfoldError } from '../core/errors.js'
import { sleep } from '../core/timing.js'
import type {
  AppendResult,
  EventData,
  EventStore,
  ExpectedRevision,
  JsonValue,
  Logger,
  Metadata,
  RecordedEvent,
} from '../core/types.js'
import { type Backoff, type BackoffOptions, backoff } from './backoff.js'
import { checkCommandId, checkDecider } from './checks.js'
import { commandEventId } from './command-ids.js'
import type { Decider, DomainEvent, RecordedOf } from './decider.js'
import { earlierResult, readCommand } from './idempotency.js'
import { type LoadContext, type Loaded, loadState } from './load.js'
import { snapshotIfDue } from './snapshotting.js'

export interface HandleCommandOptions {
  /**
   * Makes handling idempotent: the same command id handled again on the same stream (a client
   * retrying after a timeout, from any process, after a restart) appends nothing and returns the
   * first result. The events get ids derived from (command id, stream id, index) and the command id
   * in their metadata. Only a handling that appended something is remembered, and only as long as
   * its events are stored (a deleted stream forgets it).
   */
  commandId?: string
  /** Retries after another writer appended first (`WRONG_EXPECTED_REVISION`). Default 10; 0 turns retrying off. */
  retries?: number
  /** Delays between those retries: exponential, with full jitter. */
  backoff?: BackoffOptions
  /** Metadata for every event appended (e.g. `correlationId`, `causationId`, a user id). */
  metadata?: Metadata
  /** Where snapshot problems are reported; they never fail a command. */
  logger?: Logger
}

export interface CommandResult<Event extends DomainEvent = DomainEvent> {
  /** Revision of the stream's last event after the command (-1n if the stream has none): the next `expectedRevision`. */
  nextExpectedRevision: bigint
  /** Global position of the last event appended; when none was, of the last event the command was decided on (0n if none). */
  position: bigint
  /** The events appended, as recorded; empty when the decider returned none. */
  events: RecordedOf<Event>[]
}

type Outcome<Event extends DomainEvent> = { done: true; result: CommandResult<Event> } | { done: false; conflict: unknown }

/**
 * Loads the stream (from its latest valid snapshot), decides the command, and appends the events
 * expecting the revision it decided on. When another writer got there first it loads and decides
 * again, after a jittered, growing delay, up to `retries` times; then the conflict is thrown.
 * A decider's rejection (`rejectCommand`) and every other error are thrown at once, never retried.
 * A decider that returns no events appends nothing: the result is the stream as it was.
 *
 * @example
 * const r = await handleCommand(store, 'account-42', { type: 'Deposit', amount: 10 }, account, { commandId })
 * r.nextExpectedRevision // 3n
 * r.events               // [{ type: 'Deposited', data: { amount: 10 }, revision: 3n, position: 97n, … }]
 */
export async function handleCommand<State, Command, Event extends DomainEvent>(
  store: EventStore,
  streamId: string,
  command: NoInfer<Command>,
  decider: Decider<State, Command, Event>,
  options: HandleCommandOptions = {},
): Promise<CommandResult<Event>> {
  return new CommandHandling(store, streamId, command, decider, options).run()
}

class CommandHandling<State, Command, Event extends DomainEvent> {
  readonly #context: LoadContext
  readonly #commandId: string | undefined
  readonly #retry: Backoff
  /**
   * The stream's revision as a conflict reported it. A soft-deleted stream shows no events but
   * keeps its revision, so folding alone cannot tell what to expect; the conflict can.
   */
  #reportedRevision: bigint | undefined

  constructor(
    private readonly store: EventStore,
    private readonly streamId: string,
    private readonly command: Command,
    private readonly decider: Decider<State, Command, Event>,
    private readonly options: HandleCommandOptions,
  ) {
    checkDecider(decider)
    this.#commandId = checkCommandId(options.commandId)
    this.#retry = backoff(options.retries, options.backoff)
    this.#context = {
      store,
      streamId,
      snapshotName: decider.snapshot === undefined ? undefined : (decider.snapshot.name ?? decider.name),
      firstEventId: this.#commandId === undefined ? undefined : commandEventId(this.#commandId, streamId, 0),
      logger: options.logger,
    }
  }

  async run(): Promise<CommandResult<Event>> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.#attempt()
      if (outcome.done) return outcome.result
      if (attempt >= this.#retry.retries) throw outcome.conflict
      await sleep(this.#retry.delayMs(attempt))
    }
  }

  async #attempt(): Promise<Outcome<Event>> {
    const loaded = await loadState(this.#context, this.decider)
    const handled = await this.#handledBefore(loaded)
    if (handled !== undefined) return done(handled)
    let decided: readonly Event[]
    try {
      const events = this.decider.decide(this.command, loaded.state)
      decided = Array.isArray(events) ? events : [events as Event]
    } catch (error) {
      // A retry of a command that succeeded, decided on the state it produced, may well be refused.
      return done(await this.#earlierOr(error))
    }
    if (decided.length === 0) return done((await this.#earlier()) ?? unchanged(loaded))
    return this.#append(loaded, decided)
  }

  async #append(loaded: Loaded<State>, decided: readonly Event[]): Promise<Outcome<Event>> {
    let appended: AppendResult
    try {
      appended = await this.store.appendToStream(this.streamId, this.#toEventData(decided), {
        expectedRevision: this.#expected(loaded),
      })
    } catch (error) {
      // A duplicate id: a concurrent handling of the same command appended first.
      if (isEventfoldError(error, 'DUPLICATE_EVENT_ID')) return done(await this.#earlierOr(error))
      if (!isEventfoldError(error, 'WRONG_EXPECTED_REVISION')) throw error
      const actual = (error as { actual?: unknown }).actual
      if (typeof actual === 'bigint') this.#reportedRevision = actual
      return { done: false, conflict: error }
    }
    const events = (await readAppended(this.store, this.streamId, appended, decided.length)) as RecordedOf<Event>[]
    const target = { store: this.store, streamId: this.streamId, name: this.#context.snapshotName, logger: this.options.logger }
    await snapshotIfDue(target, this.decider, loaded, events)
    return done({ ...appended, events })
  }

  /** The earlier handling's result when folding met the command's first event. */
  async #handledBefore(loaded: Loaded<State>): Promise<CommandResult<Event> | undefined> {
    if (loaded.commandRevision === undefined || this.#commandId === undefined) return undefined
    return readCommand<CommandResult<Event>>(this.store, this.streamId, this.#commandId, loaded.commandRevision)
  }

  #expected(loaded: Loaded<State>): ExpectedRevision {
    return loaded.revision ?? this.#reportedRevision ?? 'no_stream'
  }

  /** The earlier handling's result, if the command carries an id and one is stored. */
  async #earlier(): Promise<CommandResult<Event> | undefined> {
    if (this.#commandId === undefined) return undefined
    return earlierResult<CommandResult<Event>>(this.store, this.streamId, this.#commandId)
  }

  /** The earlier handling's result, or else the error. */
  async #earlierOr(error: unknown): Promise<CommandResult<Event>> {
    const earlier = await this.#earlier()
    if (earlier === undefined) throw error
    return earlier
  }

  #toEventData(events: readonly Event[]): EventData[] {
    const commandId = this.#commandId
    const common = this.options.metadata
    return events.map((event, index) => {
      const metadata =
        common === undefined && event.metadata === undefined && commandId === undefined
          ? undefined
          : { ...common, ...event.metadata, ...(commandId === undefined ? {} : { commandId }) }
      const data = event.data as JsonValue
      if (commandId === undefined) return { type: event.type, data, metadata }
      return { id: commandEventId(commandId, this.streamId, index), type: event.type, data, metadata }
    })
  }
}

const done = <Event extends DomainEvent>(result: CommandResult<Event>): Outcome<Event> => ({ done: true, result })

/** The result of a command that appended nothing: the stream as it was decided on. */
const unchanged = <Event extends DomainEvent>(loaded: Loaded<unknown>): CommandResult<Event> => ({
  nextExpectedRevision: loaded.revision ?? -1n,
  position: loaded.position,
  events: [],
})

/** The events an append just recorded, read back: ids, positions and times are the store's. */
async function readAppended(store: EventStore, streamId: string, appended: AppendResult, count: number) {
  const events: RecordedEvent[] = []
  const fromRevision = appended.nextExpectedRevision - BigInt(count) + 1n
  for await (const event of store.readStream(streamId, { fromRevision })) {
    if (event.revision > appended.nextExpectedRevision) break
    events.push(event)
  }
  return events
}
