const WINDOW = 1024

/** The last durations in a ring, with percentiles computed when asked. */
export class Durations {
  readonly #ring: number[] = []
  #next = 0

  add(ms: number): void {
    if (this.#ring.length < WINDOW) this.#ring.push(ms)
    else this.#ring[this.#next] = ms
    this.#next = (this.#next + 1) % WINDOW
  }

  summary(): { count: number; p50: number; p95: number; p99: number; max: number } {
    const sorted = [...this.#ring].sort((a, b) => a - b)
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
    return { count: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? 0 }
  }
}
