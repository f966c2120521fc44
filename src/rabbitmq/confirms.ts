import type { Options } from 'amqplib'
import { PublishNotConfirmedError } from '../messaging/errors.js'

export interface Outgoing {
  /** For errors: the message id. */
  id: string
  exchange: string
  routingKey: string
  content: Buffer
  options: Options.Publish
}

/** What `publishBatch` needs of an amqplib `ConfirmChannel`. */
export interface ConfirmPublisher {
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
    callback: (error: unknown) => void,
  ): boolean
}

const CONFIRMED = Symbol('confirmed')
const RESEND = Symbol('resend')
/** A message's answer: confirmed, to send again, or the broker's (or client's) refusal. */
type Outcome = typeof CONFIRMED | typeof RESEND | { refused: unknown }

/**
 * Publishes a batch on a confirm channel and waits until every message of it has its answer, so
 * none is left in flight whatever happens. Resolves with the messages to send again on another
 * channel: those the channel lost before the broker confirmed them. Rejects with
 * `PublishNotConfirmedError` (code `PUBLISH_NOT_CONFIRMED`) for the first message, in batch order,
 * that the broker nacked. One promise per batch, not per message: this runs for every message published.
 */
export function publishBatch(channel: ConfirmPublisher, batch: readonly Outgoing[]): Promise<Outgoing[]> {
  return new Promise((resolve, reject) => {
    const outcomes: (Outcome | undefined)[] = new Array(batch.length)
    let waiting = batch.length
    const settle = (index: number, outcome: Outcome) => {
      // amqplib answers each message once; counting a second answer would end the wait for another.
      if (outcomes[index] !== undefined) return
      outcomes[index] = outcome
      if (--waiting === 0) finish(batch, outcomes as Outcome[], resolve, reject)
    }
    for (let i = 0; i < batch.length; i++) {
      const message = batch[i] as Outgoing
      try {
        channel.publish(message.exchange, message.routingKey, message.content, message.options, (error) =>
          settle(i, outcomeOf(error)),
        )
      } catch (error) {
        // amqplib throws IllegalOperationError on a channel that closed under us: the next one takes it.
        // Anything else (a header table too big to encode…) would throw again however often it is sent.
        settle(i, (error as Error)?.name === 'IllegalOperationError' ? RESEND : { refused: error })
      }
    }
    if (batch.length === 0) resolve([])
  })
}

function outcomeOf(error: unknown): Outcome {
  if (error === null || error === undefined) return CONFIRMED
  // amqplib reports a broker nack as 'message nacked'; anything else is the channel going away.
  return String((error as Error)?.message ?? error).includes('nacked') ? { refused: error } : RESEND
}

function finish(
  batch: readonly Outgoing[],
  outcomes: readonly Outcome[],
  resolve: (resend: Outgoing[]) => void,
  reject: (error: unknown) => void,
): void {
  const resend: Outgoing[] = []
  for (let i = 0; i < batch.length; i++) {
    const outcome = outcomes[i] as Outcome
    const message = batch[i] as Outgoing
    if (typeof outcome === 'object') {
      reject(new PublishNotConfirmedError(message.id, outcome.refused))
      return
    }
    if (outcome === RESEND) resend.push(message)
  }
  resolve(resend)
}
