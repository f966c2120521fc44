import type { EventStore, Logger, RecordedEvent } from '../core/types.js'
import type { Decider, DomainEvent } from './decider.js'

/** What a command is decided on: the stream folded, from its latest usable snapshot if any. */
export interface Loaded<State> {
  state: State
  /** Revision of the last event folded (into the snapshot or after it); undefined when none was. */
  revision: bigint | undefined
  /** Global position of that event; 0n when none was. */
  position: bigint
  /** Revision of the first event folded into `state`, from the snapshot's own fold if one was used. */
  firstRevision: bigint | undefined
  /** Events folded after the snapshot (all of them when no snapshot was used). */
  sinceSnapshot: number
  /** Revision of the command's first event, when folding met it: the command was handled before. */
  commandRevision: bigint | undefined
}

export interface LoadContext {
  store: EventStore
  streamId: string
  /** Set when the decider keeps snapshots and the store can hold them. */
  snapshotName: string | undefined
  /** Id of the first event this command would append (with a command id), to notice an earlier handling. */
  firstEventId: string | undefined
  logger: Logger | undefined
}

type Start<State> = Pick<Loaded<State>, 'state' | 'revision' | 'position' | 'firstRevision'>

/**
 * Folds the stream into state. With a snapshot, only the events after it are read, and meanwhile
 * (in parallel) the event the snapshot's fold began at is looked up: it is gone if the stream was
 * deleted since, and then the snapshot is not trusted and the whole stream is folded instead.
 */
export async function loadState<State, Command, Event extends DomainEvent>(
  context: LoadContext,
  decider: Decider<State, Command, Event>,
): Promise<Loaded<State>> {
  const snapshot = await usableSnapshot(context, decider)
  if (snapshot !== undefined) {
    const [trusted, loaded] = await Promise.all([
      stillStored(context, snapshot.firstRevision as bigint),
      fold(context, decider, snapshot),
    ])
    if (trusted) return loaded
  }
  const start = { state: decider.initialState(), revision: undefined, position: 0n, firstRevision: undefined }
  return fold(context, decider, start)
}

async function fold<State, Command, Event extends DomainEvent>(
  context: LoadContext,
  decider: Decider<State, Command, Event>,
  start: Start<State>,
): Promise<Loaded<State>> {
  const loaded: Loaded<State> = { ...start, sinceSnapshot: 0, commandRevision: undefined }
  const fromRevision = start.revision === undefined ? undefined : start.revision + 1n
  for await (const event of context.store.readStream(context.streamId, { fromRevision })) {
    loaded.state = decider.evolve(loaded.state, event as unknown as Event)
    loaded.firstRevision ??= event.revision
    if (event.id === context.firstEventId) loaded.commandRevision ??= event.revision
    loaded.revision = event.revision
    loaded.position = event.position
    loaded.sinceSnapshot++
  }
  return loaded
}

/** The stored snapshot, if there is one this decider may use; a failure to load it only costs a full fold. */
async function usableSnapshot<State, Command, Event extends DomainEvent>(
  { store, streamId, snapshotName, logger }: LoadContext,
  decider: Decider<State, Command, Event>,
): Promise<Start<State> | undefined> {
  if (snapshotName === undefined || store.snapshots === undefined) return undefined
  try {
    const snapshot = await store.snapshots.load(streamId, snapshotName)
    // Made by another version of evolve: its state may mean something else now.
    if (snapshot === undefined || snapshot.version !== (decider.version ?? 1)) return undefined
    const deserialize = decider.snapshot?.deserialize
    const state = deserialize === undefined ? (snapshot.state as State) : deserialize(snapshot.state)
    return { state, revision: snapshot.revision, position: snapshot.position, firstRevision: snapshot.firstRevision }
  } catch (error) {
    logger?.warn?.('eventfold: could not use a snapshot; folding the whole stream', { streamId, name: snapshotName, error })
    return undefined
  }
}

/** Whether the stream still holds the event at this revision: no delete has happened since it was written. */
async function stillStored({ store, streamId }: LoadContext, revision: bigint): Promise<boolean> {
  let first: RecordedEvent | undefined
  for await (const event of store.readStream(streamId, { fromRevision: revision, maxCount: 1 })) first = event
  return first?.revision === revision
}
