/**
 * Tells waiters that the log may have grown. A version counter rather than a bare event, so a
 * change that lands between a reader's query and its wait is never missed.
 */
export class ChangeSignal {
  #version = 0
  #waiters = new Set<() => void>()

  get version(): number {
    return this.#version
  }

  notify(): void {
    this.#version++
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const wake of waiters) wake()
  }

  /** Resolves when the version moves past `since`, after `timeoutMs`, or when `abort` fires. */
  waitForChange(since: number, timeoutMs: number, abort: AbortSignal): Promise<void> {
    if (this.#version !== since || abort.aborted) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        abort.removeEventListener('abort', done)
        this.#waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      abort.addEventListener('abort', done, { once: true })
      this.#waiters.add(done)
    })
  }
}
