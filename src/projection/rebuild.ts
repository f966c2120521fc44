import { minOf } from '../core/bigints.js'
import type { ProcessingBackend } from '../core/internal.js'
import { type Projection, projectionNamespace } from '../core/projection-types.js'
import type { Processor } from '../processing/types.js'
import type { Generations } from './generations.js'

export interface RebuildProgress {
  /** The generation being built. */
  generation: number
  /** Log positions handled so far, and the head of the log when this was measured. */
  done: bigint
  total: bigint
  eventsPerSecond: number
  /** Seconds left at the current rate; undefined before there is a rate. */
  etaSeconds: number | undefined
  phase: 'building' | 'switched' | 'dropped'
}

export interface RebuildOptions {
  onProgress?: (progress: RebuildProgress) => void
  /** How often `onProgress` is called while building. Default 500 ms. */
  progressIntervalMs?: number
}

export interface RebuildResult {
  generation: number
  previous: number
  ms: number
}

/** What a rebuild needs from the async projection it rebuilds. */
export interface Rebuildable {
  readonly name: string
  processorFor(generation: number, overrides: { startFrom: 'start' }): Processor
  setup(generation: number): Promise<void>
  /** Makes `builder` the live processor of this instance (or stops it, if the instance is not running). */
  adopt(generation: number, builder: Processor): Promise<void>
}

/**
 * Zero-downtime rebuild: the next generation is built from the start of the log by its own
 * processor while the live one keeps serving; once it has caught up, one transaction switches the
 * live generation (readers and every instance's writers follow it), then the old one is dropped.
 */
export async function rebuild(
  owner: Rebuildable,
  backend: ProcessingBackend,
  generations: Generations,
  projection: Projection,
  options: RebuildOptions,
): Promise<RebuildResult> {
  const started = Date.now()
  const previous = await generations.active()
  const generation = previous + 1
  const namespace = projectionNamespace(projection.name, generation)
  // A rebuild that died half-way left a partial generation: start it again from nothing.
  await backend.transaction(async (tx) => {
    await tx.dropProcessor(namespace)
    await tx.dropDocuments(namespace)
  })
  await owner.setup(generation)
  const builder = owner.processorFor(generation, { startFrom: 'start' })
  await builder.start()
  const report = reporter(builder, backend, generation, options)
  try {
    await builder.waitFor(await backend.headPosition(), { timeoutMs: 2 ** 31 - 1 })
  } catch (error) {
    await builder.stop()
    throw error
  } finally {
    await report.stop()
  }
  await backend.transaction((tx) => generations.switchTo(tx, generation))
  await report.emit('switched')
  await owner.adopt(generation, builder)
  const old = projectionNamespace(projection.name, previous)
  await backend.transaction(async (tx) => {
    await projection.teardown?.(tx.handle as never, { generation: previous })
    await tx.dropDocuments(old)
    await tx.dropProcessor(old)
  })
  await report.emit('dropped')
  return { generation, previous, ms: Date.now() - started }
}

export function reporter(
  builder: Pick<Processor, 'stats'>,
  backend: Pick<ProcessingBackend, 'headPosition'>,
  generation: number,
  options: RebuildOptions,
) {
  const began = Date.now()
  const emit = async (phase: RebuildProgress['phase']) => {
    if (options.onProgress === undefined) return
    const total = await backend.headPosition()
    const partitions = builder.stats().partitions
    const done =
      phase === 'building'
        ? minOf(
            partitions.map((p) => p.position),
            0n,
          )
        : total
    const seconds = (Date.now() - began) / 1000
    const eventsPerSecond = seconds > 0 ? Math.round(Number(done) / seconds) : 0
    const etaSeconds = eventsPerSecond > 0 ? Number(total - done) / eventsPerSecond : undefined
    options.onProgress({ generation, done, total, eventsPerSecond, etaSeconds, phase })
  }
  // One tick at a time: a slow read of the head would otherwise let reports overtake each other.
  let inFlight: Promise<void> | undefined
  const tick = () => {
    if (inFlight !== undefined) return
    inFlight = emit('building')
      .catch(() => {})
      .finally(() => {
        inFlight = undefined
      })
  }
  const timer = setInterval(tick, options.progressIntervalMs ?? 500)
  return {
    emit,
    /** No more ticks; a tick reading the head now still reports, before anything that follows. */
    stop: async () => {
      clearInterval(timer)
      await inFlight
    },
  }
}
