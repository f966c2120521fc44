import { hrtime } from 'node:process'

export const now = () => Number(hrtime.bigint()) / 1e6

/**
 * Runs `concurrency` loops of `op` for `durationMs` (after a short warm-up) and returns operations
 * per second. `op` gets the worker index and its own iteration count.
 */
export async function throughput(
  concurrency: number,
  durationMs: number,
  op: (worker: number, iteration: number) => Promise<number | undefined>,
  warmupMs = Math.min(1_000, durationMs / 4),
): Promise<{ perSecond: number; count: number }> {
  let counting = false
  let stop = false
  let count = 0
  const workers = Array.from({ length: concurrency }, async (_, worker) => {
    for (let i = 0; !stop; i++) {
      const units = (await op(worker, i)) ?? 1
      if (counting) count += units
      // A synchronous backend (SQLite) resolves in microtasks only: let timers run now and then.
      if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve))
    }
  })
  await sleep(warmupMs)
  counting = true
  const started = now()
  await sleep(durationMs)
  counting = false
  const elapsed = now() - started
  stop = true
  await Promise.all(workers)
  return { perSecond: Math.round((count / elapsed) * 1000), count }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function percentiles(samples: number[], points: number[]): Record<string, number> {
  const sorted = [...samples].sort((a, b) => a - b)
  const out: Record<string, number> = {}
  for (const p of points) {
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
    out[`p${p}`] = Math.round((sorted[index] ?? Number.NaN) * 1000) / 1000
  }
  return out
}

export const ratio = (value: number, baseline: number) => Math.round((value / baseline) * 100) / 100

/** Starts a consumer that reports each message's send time; returns its stop function. */
export type Listen = (onMessage: (sentAt: number) => void) => Promise<() => Promise<void>>

/**
 * Send → handler latency at a steady offered load: `send` is called `rate` times a second for
 * `warmupSeconds` and then `seconds`, each message carrying its send time, and the listener
 * reports when each arrives. Only messages sent after the warm-up are timed: whichever side ran
 * first paid for the first few hundred messages after a throughput run (JIT, buffers, the
 * broker's own state), about 1.5× the steady latency, on either side.
 */
export async function latencyAtRate(
  rate: number,
  seconds: number,
  listen: Listen,
  send: () => Promise<unknown>,
  warmupSeconds = 1.5,
) {
  const samples: number[] = []
  const warmup = Math.round(rate * warmupSeconds)
  const total = rate * seconds
  let timedFrom = Number.POSITIVE_INFINITY
  const stop = await listen((sentAt) => {
    if (sentAt >= timedFrom) samples.push(now() - sentAt)
  })
  const started = now()
  // Only the sends still in flight are kept: holding every send's promise and result until the end
  // (5,750 of them in a 10 s run) made each young-generation GC copy them, a pause charged to
  // whichever side returns more per publish (the transport returns the ids), not to its messages.
  // A failed send stays, so the wait below fails with it.
  const inFlight = new Set<Promise<unknown>>()
  for (let i = 0; i < warmup + total; i++) {
    if (i === warmup) timedFrom = now()
    const sent = send()
    inFlight.add(sent)
    sent.then(
      () => inFlight.delete(sent),
      () => {},
    )
    await sleep(Math.max(0, started + ((i + 1) * 1000) / rate - now()))
  }
  await Promise.all(inFlight)
  const deadline = now() + 10_000
  while (samples.length < total && now() < deadline) await sleep(10)
  await stop()
  return { received: samples.length, ...percentiles(samples, [50, 99]) }
}
