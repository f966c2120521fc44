import { constants, PerformanceObserver, performance } from 'node:perf_hooks'
import { hrtime } from 'node:process'
import type { SubscribeOptions, Transport } from '../../src/index.js'

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

/** The parts of a transport bench to run: EVENTFOLD_BENCH_PARTS=latency skips the throughput runs (for A/B runs of the latency alone). */
export const benchParts = () => process.env.EVENTFOLD_BENCH_PARTS?.split(',') ?? ['throughput', 'latency']

/** One side of a latency comparison: how it consumes, and how it sends one message. */
export interface LatencySide {
  listen: Listen
  send: () => Promise<unknown>
}

/** A transport's side: a `latency` group reporting each `Ping`'s send time, one message per publish. */
export function transportSide(transport: Transport, options: Partial<SubscribeOptions> = {}): LatencySide {
  return {
    async listen(on) {
      const consumer = await transport.subscribe({
        group: 'latency',
        concurrency: 16,
        ...options,
        handler: (m) => on((m.data as { sentAt: number }).sentAt),
      })
      return () => consumer.stop()
    },
    send: () => transport.publish([{ type: 'Ping', data: { sentAt: now() } }]),
  }
}

interface Collections {
  scavenges: number
  majors: number
  pauseMs: number
}

type Run = Awaited<ReturnType<typeof latencyRun>>

/**
 * Timed seconds a side for a latency comparison at the bench's `--seconds` (3 by default: 12 s,
 * 6,000 messages at 500 a second, so a p99 is the 60th worst). With 3 s, in 2 rounds, five runs
 * of unchanged code on a noisy machine gave Redis p99 ratios from 0.26× to 3.09×: the 15th worst
 * of 1,500 was decided by a few slow spells.
 */
export const latencySeconds = (seconds: number) => Math.max(2, seconds) * 4

/**
 * Send → handler latency of `ours` beside `bare` at a steady offered load, `seconds` timed per
 * side. The timed time is split over `rounds` rounds that alternate which side goes first (ours,
 * bare, then bare, ours…) and the samples of each side are pooled: the machine's own slow spells
 * (another VM, the broker's housekeeping) last seconds, and a side that ran whole in one of them
 * moved a p99 by more than anything measured here. Alternating spreads them over both sides.
 */
export async function latencyBeside(rate: number, seconds: number, ours: LatencySide, bare: LatencySide, rounds = 4) {
  const runs = { ours: [] as Run[], bare: [] as Run[] }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['ours', 'bare'] as const) : (['bare', 'ours'] as const)
    for (const side of order) {
      const { listen, send } = side === 'ours' ? ours : bare
      runs[side].push(await latencyRun(rate, seconds / rounds, listen, send))
    }
  }
  return { ours: pooled(runs.ours), baseline: pooled(runs.bare) }
}

function pooled(runs: Run[]) {
  const samples = runs.flatMap((run) => run.samples)
  const sum = (of: (run: Run) => number) => runs.reduce((total, run) => total + of(run), 0)
  return {
    received: samples.length,
    ...percentiles(samples, [50, 99]),
    gc: {
      scavenges: sum((run) => run.gc.scavenges),
      majors: sum((run) => run.gc.majors),
      pauseMs: Math.round(sum((run) => run.gc.pauseMs) * 100) / 100,
    },
    // This process's CPU per message (sending and handling both run here).
    cpuUsPerMessage: Math.round(sum((run) => run.cpuUs) / Math.max(1, samples.length)),
  }
}

/**
 * Send → handler latency at a steady offered load: `send` is called `rate` times a second for
 * `warmupSeconds` and then `seconds`, each message carrying its send time, and the listener
 * reports when each arrives. Only messages sent after the warm-up are timed: whichever side ran
 * first paid for the first few hundred messages after a throughput run (JIT, buffers, the
 * broker's own state), about 1.5× the steady latency, on either side.
 */
async function latencyRun(rate: number, seconds: number, listen: Listen, send: () => Promise<unknown>, warmupSeconds = 1.5) {
  const samples: number[] = []
  const gc: Collections = { scavenges: 0, majors: 0, pauseMs: 0 }
  // The collections in the timed part, reported beside the figures: a p99 of a few hundred
  // samples moves with two or three pauses, so a side's tail can be read against its collections.
  const collections = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.startTime < timedFromPerf) continue
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.scavenges++
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.majors++
      gc.pauseMs += entry.duration
    }
  })
  collections.observe({ entryTypes: ['gc'] })
  const warmup = Math.round(rate * warmupSeconds)
  const total = Math.round(rate * seconds)
  let timedFrom = Number.POSITIVE_INFINITY
  let timedFromPerf = Number.POSITIVE_INFINITY
  let cpuFrom = process.cpuUsage()
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
    if (i === warmup) {
      timedFrom = now()
      timedFromPerf = performance.now()
      cpuFrom = process.cpuUsage()
    }
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
  const cpu = process.cpuUsage(cpuFrom)
  await stop()
  collections.disconnect()
  // Percentiles of what arrived would hide what did not: a side that lost messages is a broken run.
  if (samples.length < total) throw new Error(`latency: ${samples.length} of ${total} timed messages arrived within 10 s`)
  // A side's stop may deliver one more message (NATS's bare consumer is woken by one): only the timed ones count.
  return { samples: samples.slice(0, total), gc, cpuUs: cpu.user + cpu.system }
}
