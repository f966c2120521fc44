import { AsyncLocalStorage } from 'node:async_hooks'
import type { Message } from './envelope.js'

// AsyncLocalStorage rather than a parameter: a handler publishes through whatever code it calls
// (a command handler, an outbox), and each of those would otherwise have to thread the message.
const storage = new AsyncLocalStorage<Message>()

/** The message whose handler is running, if any. */
export function currentMessage(): Message | undefined {
  return storage.getStore()
}

/** Runs `work` as the handling of `message`: what it publishes is caused by `message`. */
export function runInMessageContext<T, A extends unknown[] = []>(message: Message, work: (...args: A) => T, ...args: A): T {
  // The arguments passed through rather than closed over: a consumer calls this once per delivery.
  return storage.run(message, work, ...args)
}
