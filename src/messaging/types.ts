import type { Logger } from '../core/types.js'
import type { Message, OutgoingMessage } from './envelope.js'

/**
 * What a transport can do beyond the contract every transport keeps. Code that needs one of these
 * asks the transport (`transport.capabilities.supportsOrderingKey`), never which broker it is.
 */
export interface TransportCapabilities {
  /** Messages with the same `partitionKey` are handled in publish order and one at a time, across a whole group. */
  readonly supportsOrderingKey: boolean
  /** Retries wait on the broker (a delay queue, a nak with delay) rather than in the consumer's memory. */
  readonly supportsDelayedDelivery: boolean
  /** The broker itself routes a message that exhausted its attempts to the dead-letter destination. */
  readonly supportsNativeDeadLettering: boolean
  /** Unacknowledged messages survive the consumer's process dying (SIGKILL) and go to another member. */
  readonly survivesConsumerCrash: boolean
  /**
   * A message waiting for its retry holds back the later messages of its key. Where false, the
   * retry waits on the broker and later messages of the key may be handled before it.
   */
  readonly retriesKeepKeyOrder: boolean
}

/**
 * Retry with exponential backoff: the delay before attempt n+1 is drawn below
 * `min(maxDelayMs, initialDelayMs · 2^(n-1))` (full jitter) or is exactly that (no jitter).
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 5. After the last, the message is dead-lettered. */
  maxAttempts?: number
  /** Default 100. */
  initialDelayMs?: number
  /** Default 30 000. */
  maxDelayMs?: number
  /** Default true: spreads the retries of messages that failed together. */
  jitter?: boolean
}

/** A message as its handler gets it. */
export interface ReceivedMessage<Data = unknown> extends Message<Data> {
  /**
   * 1 on first delivery; counts failed attempts, and redeliveries after a consumer crash where the
   * broker tells (on NATS, every delivery JetStream made, including messages handed back when their
   * shard moved to another member, plus the retries in the consumer).
   */
  readonly attempt: number
  readonly group: string
}

export type MessageHandler = (message: ReceivedMessage) => Promise<void> | void

export interface SubscribeOptions {
  /**
   * The consumer group. The members of one group share its messages (each message goes to one of
   * them); every group gets every message published after the group first subscribed.
   */
  group: string
  /** Only these message types; default all. */
  types?: readonly string[]
  /** Resolves: the message is done. Throws: it is retried, then dead-lettered. */
  handler: MessageHandler
  /** Messages handled at once by this consumer, never two of one partition key. Default 1. */
  concurrency?: number
  retry?: RetryPolicy
}

export interface StopOptions {
  /**
   * How long to wait for handlers still running. After it, their messages are released unacknowledged
   * (another member will get them) and their outcome is ignored. Default: wait as long as they take.
   */
  timeoutMs?: number
}

export interface Consumer {
  readonly group: string
  /** Stops taking messages and waits for those in hand (see `StopOptions`). */
  stop(options?: StopOptions): Promise<void>
}

/** Where a message that could not be handled ended up, and why. */
export interface DeadLetter {
  /** The dead letter's own id (the message's id when the message could be read). */
  readonly id: string
  readonly group: string
  /** The message, when it could be decoded. */
  readonly message?: Message
  /** The raw bytes, when it could not. */
  readonly raw?: { headers: Record<string, string>; body: string }
  readonly error: { message: string; code?: string; name?: string }
  readonly attempts: number
  /** Where the message was being consumed (queue, subject, stream) when it failed. */
  readonly origin: string
  readonly deadLetteredAt: Date
}

export interface DeadLetterQueue {
  /** Oldest first. */
  list(group: string, options?: { limit?: number }): Promise<DeadLetter[]>
  /** Delivers these dead letters to their group again, with a fresh attempt count, and removes them. */
  replay(group: string, ids: readonly string[]): Promise<void>
  /** Removes them for good. */
  discard(group: string, ids: readonly string[]): Promise<void>
}

export interface PublishResult {
  /** The ids of the published messages, in order. */
  ids: string[]
}

/**
 * A message broker seen through eventfold: publish CloudEvents, consume them in groups with retries
 * and dead-lettering. Delivery is at least once: a handler must tolerate seeing a message again.
 */
export interface Transport {
  readonly capabilities: TransportCapabilities
  /** Resolves once the broker has taken every message (stored it, where it stores). */
  publish(messages: readonly OutgoingMessage[]): Promise<PublishResult>
  subscribe(options: SubscribeOptions): Promise<Consumer>
  readonly deadLetters: DeadLetterQueue
  /** Stops every consumer and closes connections. */
  close(): Promise<void>
}

export interface TransportOptions {
  /** The CloudEvents `source` of what this service publishes. Default `eventfold`. */
  source?: string
  logger?: Logger
}
