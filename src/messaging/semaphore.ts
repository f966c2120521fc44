/** At most `size` holders at once; waiters are served in arrival order. */
export class Semaphore {
  #free: number
  #waiters: (() => void)[] = []

  constructor(size: number) {
    this.#free = size
  }

  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--
      return
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve))
  }

  release(): void {
    const next = this.#waiters.shift()
    if (next !== undefined) next()
    else this.#free++
  }
}
