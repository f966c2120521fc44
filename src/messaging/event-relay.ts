import { nameBasedUuid } from '../command/command-ids.js'
import { InvalidInputError } from '../core/errors.js'
import type { EventFilter, EventStore, Logger, RecordedEvent } from '../core/types.js'
import { createProcessor } from '../processing/processor.js'
import type { Processor, ProcessorOptions } from '../processing/types.js'
import type { OutgoingMessage } from './envelope.js'
import type { Transport } from './types.js'

/** Turns a stored event into the integration messages to publish (none to leave it private). */
export type EventToMessages = (event: RecordedEvent) => OutgoingMessage | readonly OutgoingMessage[] | undefined

export interface EventRelayOptions
  extends Pick<ProcessorOptions, 'partitions' | 'batchSize' | 'retry' | 'leaseMs' | 'startFrom'> {
  store: EventStore
  transport: Transport
  /** Names the relay's checkpoints: several processes with the same name share the work. */
  name: string
  filter?: EventFilter
  /** Default: the event as it is (type, data), keyed by its stream. */
  map?: EventToMessages
  logger?: Logger
}

/**
 * The outbox of an event-sourced service: publishes chosen events to a transport, at least once, in
 * per-stream order, resuming from its checkpoint after a crash. It is a processor: a batch is
 * published (and confirmed) before its checkpoint commits. Message ids derive from event ids, so a
 * batch published again after a crash carries the same ids and an inbox drops the copies.
 *
 * @example
 * const relay = createEventRelay({ store, transport, name: 'orders-out', filter: { eventTypes: ['OrderPlaced'] } })
 * await relay.start()
 */
export function createEventRelay(options: EventRelayOptions): Processor {
  const { store, transport, name, filter, map = asIs, logger, ...settings } = options
  if (typeof transport?.publish !== 'function') {
    throw new InvalidInputError('INVALID_ARGUMENT', 'transport must be a Transport', 'transport')
  }
  return createProcessor({
    ...settings,
    store,
    name: `relay:${name}`,
    filter,
    logger,
    handleBatch: async (events) => {
      const messages = events.flatMap((event) => withDefaults(event, map(event)))
      if (messages.length > 0) await transport.publish(messages)
    },
  })
}

const asIs: EventToMessages = (event) => ({ type: event.type, data: event.data })

/** Ids from the event (stable across republishing), the stream as key and subject, the event's conversation. */
function withDefaults(event: RecordedEvent, mapped: ReturnType<EventToMessages>): OutgoingMessage[] {
  const list = mapped === undefined ? [] : Array.isArray(mapped) ? mapped : [mapped as OutgoingMessage]
  return list.map((message, index) => ({
    id: list.length === 1 ? event.id : nameBasedUuid(['eventfold/relay', event.id, index]),
    partitionKey: event.streamId,
    subject: event.streamId,
    time: event.recordedAt,
    correlationId: event.metadata.correlationId,
    causationId: event.id,
    ...message,
  }))
}
