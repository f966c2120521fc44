import type { EventStore, JsonValue, Logger } from '../core/types.js'
import type { Decider, DomainEvent, RecordedOf } from './decider.js'
import type { Loaded } from './load.js'

export interface SnapshotTarget {
  store: EventStore
  streamId: string
  name: string | undefined
  logger: Logger | undefined
}

/**
 * After a successful append: takes a snapshot if the policy says it is due. Anything going wrong
 * here (the predicate, serializing, storage) is logged and never fails the command, which has
 * already been recorded.
 */
export async function snapshotIfDue<State, Command, Event extends DomainEvent>(
  { store, streamId, name, logger }: SnapshotTarget,
  decider: Decider<State, Command, Event>,
  loaded: Loaded<State>,
  events: RecordedOf<Event>[],
): Promise<void> {
  const policy = decider.snapshot
  const last = events.at(-1)
  if (policy === undefined || name === undefined || store.snapshots === undefined || last === undefined) return
  try {
    const eventsSinceSnapshot = loaded.sinceSnapshot + events.length
    const every = policy.every !== undefined && eventsSinceSnapshot >= policy.every
    if (!every && policy.when === undefined) return
    // The append was checked against the revision the state was loaded at, so this is the state now.
    const state = events.reduce((folded, event) => decider.evolve(folded, event as unknown as Event), loaded.state)
    if (!every && !policy.when?.({ state, revision: last.revision, eventsSinceSnapshot, events })) return
    await store.snapshots.save(streamId, name, {
      state: policy.serialize === undefined ? (state as JsonValue) : policy.serialize(state),
      revision: last.revision,
      position: last.position,
      firstRevision: loaded.firstRevision ?? (events[0] as RecordedOf<Event>).revision,
      version: decider.version ?? 1,
    })
  } catch (error) {
    logger?.warn?.('eventfold: could not save a snapshot; the command succeeded', { streamId, name, error })
  }
}
