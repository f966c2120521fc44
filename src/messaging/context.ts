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
export function runInMessageContext<T>(message: Message, work: () => T): T {
  return storage.run(message, work)
}
