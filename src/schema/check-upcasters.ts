import fc from 'fast-check'
import type { RecordedEvent } from '../core/types.js'
import type { SchemaIssue } from './errors.js'
import type { SchemaRegistry } from './registry.js'
import { arbitraryFromJsonSchema } from './sample.js'
import { historyOf, type SchemaSet } from './schema-set.js'
import { SCHEMA_VERSION_KEY } from './upcast.js'
import { toIssues } from './validate.js'

export interface UpcasterCheckOptions {
  /** Sample payloads per old version. Default 100. */
  samples?: number
  /** Makes a run reproducible; every result reports the seed it ran with. */
  seed?: number
  /** Called after each old version is checked (the CLI shows progress with it). */
  onResult?: (result: UpcasterCheckResult) => void
}

export interface UpcasterCheckResult {
  /** The type name the samples were stored under (an old name, for a renamed type). */
  event: string
  fromVersion: number
  /** The types it should read as, each at its current version. */
  into: string[]
  status: 'passed' | 'failed' | 'skipped'
  runs: number
  seed?: number
  /** Why it failed, or why it was not checked. */
  reason?: string
  /** The smallest payload found that fails (fast-check shrinks it), as stored at `fromVersion`. */
  counterexample?: unknown
  /** What the upcasters made of the counterexample. */
  upcast?: unknown
  /** The current schema's issues with it. */
  issues?: SchemaIssue[]
}

export interface UpcasterReport {
  ok: boolean
  results: UpcasterCheckResult[]
}

interface Target {
  /** A retired type may read as several events, or none; any other reads as exactly one. */
  splits: boolean
  event: string
  fromVersion: number
  into: string[]
  schema: unknown
}

const SAMPLE_ID = '00000000-0000-4000-8000-000000000000'

/**
 * Tests the upcasters instead of trusting them: for every old version with a published JSON
 * Schema, generates payloads valid at that version (property-based, with fast-check), upcasts each
 * as a read would, and checks that the current schema of every resulting event accepts it.
 *
 * @example
 * const report = await checkUpcasters(registry, readSchemaSet('schemas.json'), { samples: 200 })
 * const failed = report.results.filter((r) => r.status === 'failed') // each with event, fromVersion, reason, counterexample
 */
export async function checkUpcasters(
  registry: SchemaRegistry,
  published: SchemaSet | undefined,
  options: UpcasterCheckOptions = {},
): Promise<UpcasterReport> {
  const results: UpcasterCheckResult[] = []
  for (const target of targets(registry, published)) {
    const result =
      target.schema === undefined
        ? {
            ...target,
            status: 'skipped' as const,
            runs: 0,
            reason: `no published JSON Schema for version ${target.fromVersion}`,
          }
        : await checkOne(registry, target, options)
    const { schema: _schema, splits: _splits, ...shown } = result
    results.push(shown)
    options.onResult?.(shown)
  }
  return { ok: results.every((r) => r.status !== 'failed'), results }
}

function targets(registry: SchemaRegistry, published: SchemaSet | undefined): Target[] {
  const list: Target[] = []
  for (const definition of [...registry.definitions, ...registry.retired]) {
    const { history } = historyOf(published, definition.type, definition.previousTypes)
    const into = definition.kind === 'event' ? [definition.type] : [...definition.into]
    // A retired type's last version is upcast too: through replaceWith.
    const last = definition.kind === 'event' ? definition.version - 1 : definition.version
    for (let version = 1; version <= last; version++) {
      const found = history.get(version)
      list.push({
        splits: definition.kind === 'retired',
        event: found?.publishedAs ?? definition.type,
        fromVersion: version,
        into,
        schema: found?.schema,
      })
    }
  }
  return list
}

interface Failure {
  reason: string
  upcast?: unknown
  issues?: SchemaIssue[]
}

async function checkOne(registry: SchemaRegistry, target: Target, options: UpcasterCheckOptions) {
  const arbitrary = arbitraryFromJsonSchema(target.schema as Record<string, unknown>, { as: 'stored' })
  const runs = options.samples ?? 100
  const details = await fc.check(
    fc.asyncProperty(arbitrary, async (payload) => (await verify(registry, target, payload)) === undefined),
    { numRuns: runs, ...(options.seed === undefined ? {} : { seed: options.seed }) },
  )
  if (!details.failed) return { ...target, status: 'passed' as const, runs: details.numRuns, seed: details.seed }
  const counterexample = details.counterexample?.[0]
  const failure = details.counterexample === null ? undefined : await verify(registry, target, counterexample)
  return {
    ...target,
    status: 'failed' as const,
    runs: details.numRuns,
    seed: details.seed,
    reason: failure?.reason ?? `the check itself failed: ${String(details.errorInstance)}`,
    counterexample,
    upcast: failure?.upcast,
    issues: failure?.issues,
  }
}

async function verify(registry: SchemaRegistry, target: Target, payload: unknown): Promise<Failure | undefined> {
  const stored: RecordedEvent = {
    id: SAMPLE_ID,
    type: target.event,
    // A copy: an upcaster that mutates its input must not change the counterexample reported.
    data: structuredClone(payload) as RecordedEvent['data'],
    metadata: { correlationId: SAMPLE_ID, causationId: SAMPLE_ID, [SCHEMA_VERSION_KEY]: target.fromVersion },
    streamId: 'upcaster-check',
    revision: 0n,
    position: 1n,
    recordedAt: new Date(0),
  }
  let read: RecordedEvent[]
  try {
    read = registry.upcast(stored)
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause
    return { reason: `upcasting threw: ${(error as Error).message}${cause instanceof Error ? `: ${cause.message}` : ''}` }
  }
  for (const event of read) {
    const definition = registry.get(event.type)
    if (definition === undefined || !target.into.includes(event.type)) {
      return { reason: `it read as '${event.type}', expected ${target.into.join(' or ')}`, upcast: event.data }
    }
    if (event.metadata[SCHEMA_VERSION_KEY] !== definition.version) {
      return {
        reason: `it read as ${event.type} v${String(event.metadata[SCHEMA_VERSION_KEY])}, not the current v${definition.version}`,
      }
    }
    const result = await definition.schema['~standard'].validate(event.data)
    if (result.issues !== undefined) {
      const issues = toIssues(result.issues)
      const first = issues[0]
      const at = first === undefined || first.path.length === 0 ? '' : ` at ${first.path.join('.')}`
      return {
        reason: `${event.type} v${definition.version} rejects the upcast payload${at}: ${first?.message}`,
        upcast: event.data,
        issues,
      }
    }
  }
  return !target.splits && read.length !== 1 ? { reason: `it read as ${read.length} events, expected 1` } : undefined
}
