import { type Binding, decodeBinary, type IncomingBinaryMessage } from './binary-mode.js'
import { runInMessageContext } from './context.js'
import type { Message } from './envelope.js'
import { describeError, type ResolvedSubscription, retryDelayMs } from './retry.js'

/** What to do with a delivery once its handler has run: the same decision for every transport. */
export type Outcome =
  | { kind: 'ack'; message: Message }
  | { kind: 'retry'; message: Message; delayMs: number; error: ReturnType<typeof describeError> }
  | { kind: 'dead'; message?: Message; error: ReturnType<typeof describeError>; attempts: number }
  /** The handler was still running when its consumer gave it up: leave the message to the broker. */
  | { kind: 'abandoned' }

/**
 * Decodes one delivery and runs the handler inside the message's context. An undecodable message
 * is dead at once: no attempt can change its bytes.
 */
export function handleDelivery(
  wire: IncomingBinaryMessage,
  binding: Binding,
  attempt: number,
  subscription: ResolvedSubscription,
): Promise<Outcome> {
  // Not async: returning the handler's promise from an async function cost two more turns and a promise.
  try {
    const outcome = runDelivery(wire, binding, attempt, subscription)
    return isThenable(outcome) ? outcome : Promise.resolve(outcome)
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * `handleDelivery`, but the outcome comes back as it is, not in a promise, when the handler
 * returned none: at full speed the promises and turns an await costs were a tenth of the CPU of
 * a delivery, and more with the context's promise hooks on, which every promise pays for.
 * @internal
 */
export function runDelivery(
  wire: IncomingBinaryMessage,
  binding: Binding,
  attempt: number,
  subscription: ResolvedSubscription,
): Outcome | Promise<Outcome> {
  let message: Message
  try {
    message = decodeBinary(wire, binding)
  } catch (error) {
    return { kind: 'dead', error: describeError(error), attempts: attempt }
  }
  let result: unknown
  try {
    // Object.assign, not a spread: V8 spreads an object like this one several times slower, once per delivery.
    const received = Object.assign({}, message, { attempt, group: subscription.group })
    result = runInMessageContext(message, subscription.handler, received)
  } catch (error) {
    return failed(message, error, attempt, subscription)
  }
  if (!isThenable(result)) return { kind: 'ack', message }
  return Promise.resolve(result).then(
    (): Outcome => ({ kind: 'ack', message }),
    (error: unknown) => failed(message, error, attempt, subscription),
  )
}

function failed(message: Message, error: unknown, attempt: number, subscription: ResolvedSubscription): Outcome {
  if (attempt >= subscription.retry.maxAttempts) return { kind: 'dead', message, error: describeError(error), attempts: attempt }
  return { kind: 'retry', message, error: describeError(error), delayMs: retryDelayMs(subscription.retry, attempt) }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null | undefined)?.then === 'function'
}

/** Header values as text, for a dead letter's record of a message it could not read. */
export function rawOf(wire: IncomingBinaryMessage): { headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(wire.headers)) {
    headers[name] = value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : String(value)
  }
  if (wire.contentType !== undefined) headers['content-type'] = wire.contentType
  return { headers, body: typeof wire.body === 'string' ? wire.body : Buffer.from(wire.body).toString('utf8') }
}
