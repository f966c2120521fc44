/** At most `size` holders at once; waiters are served in arrival order. */
export class Semaphore {
  #free: number
  #waiters: ((granted: boolean) => void)[] = []

  constructor(size: number) {
    this.#free = size
  }

  /** True once acquired; false if `timeoutMs` passed first (nothing is held then). */
  async acquire(timeoutMs?: number): Promise<boolean> {
    if (this.#free > 0) {
      this.#free--
      return true
    }
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined
      const waiter = (granted: boolean) => {
        clearTimeout(timer)
        resolve(granted)
      }
      this.#waiters.push(waiter)
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter)
          resolve(false)
        }, timeoutMs)
      }
    })
  }

  release(): void {
    const next = this.#waiters.shift()
    if (next !== undefined) next(true)
    else this.#free++
  }
}
