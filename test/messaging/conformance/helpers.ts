import { setTimeout as sleep } from 'node:timers/promises'

export { sleep }

/**
 * Polls until `check` holds. The deadline is generous on purpose: it only bounds a failing test,
 * a passing one returns as soon as the condition is met, however loaded the machine is.
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

export interface Deferred<T = void> {
  promise: Promise<T>
  resolve(value: T): void
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

export const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
