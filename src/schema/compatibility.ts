import { type DifferenceKind, differences, type SchemaDifference } from './compare.js'
import { type JsonSchema, sameSchema } from './json-schema.js'
import { type CompatibilityMode, checksBackward, checksForward, isTransitive } from './modes.js'
import type { SchemaRegistry } from './registry.js'
import { historyOf, type SchemaSet } from './schema-set.js'

export type CompatibilityIssueKind =
  | DifferenceKind
  | 'CHANGED_WITHOUT_VERSION_BUMP'
  | 'VERSION_DECREASED'
  | 'EVENT_REMOVED'
  | 'HISTORY_CONFLICT'

/**
 * `backward`: the current version reading events written at `againstVersion`;
 * `forward`: readers still on `againstVersion` reading events written at the current version.
 */
export type Direction = 'backward' | 'forward'

export interface CompatibilityIssue {
  event: string
  kind: CompatibilityIssueKind
  message: string
  direction?: Direction
  currentVersion?: number
  againstVersion?: number
  /** The field, dotted from the payload's root (`[]`: array items). */
  path?: string
}

export interface EventCompatibility {
  event: string
  mode: CompatibilityMode
  status: 'new' | 'unchanged' | 'evolved' | 'retired' | 'removed' | 'broken'
  currentVersion?: number
  publishedVersion?: number
}

export interface CompatibilityReport {
  ok: boolean
  mode: CompatibilityMode
  events: EventCompatibility[]
  issues: CompatibilityIssue[]
}

export interface DirectedDifference extends SchemaDifference {
  direction: Direction
}

/**
 * Compares two versions of one event's JSON Schema under a mode (transitive or not makes no
 * difference for a single pair). Empty when compatible.
 *
 * @example
 * compareSchemas(v1, v2, 'BACKWARD', { older: 'v1', newer: 'v2' })
 * // [{ direction: 'backward', kind: 'REQUIRED_FIELD_MISSING', path: 'currency', message: "'currency': required by v2, absent from v1" }]
 */
export function compareSchemas(
  older: JsonSchema,
  newer: JsonSchema,
  mode: CompatibilityMode,
  labels: { older: string; newer: string } = { older: 'the older schema', newer: 'the newer schema' },
): DirectedDifference[] {
  const found: DirectedDifference[] = []
  if (checksBackward(mode)) {
    for (const d of differences(older, newer, { writer: labels.older, reader: labels.newer }))
      found.push({ ...d, direction: 'backward' })
  }
  if (checksForward(mode)) {
    for (const d of differences(newer, older, { writer: labels.newer, reader: labels.older }))
      found.push({ ...d, direction: 'forward' })
  }
  return found
}

/**
 * Compares the registry against the published set: every defined type under its mode (the
 * definition's own `compatibility`, else `options.mode`, default `BACKWARD`), a changed schema
 * without a new version, versions going backwards, and published types that disappeared.
 *
 * @example
 * const report = checkCompatibility(registry, readSchemaSet('schemas.json'), { mode: 'FULL_TRANSITIVE' })
 * if (!report.ok) throw new Error(report.issues.map((i) => `${i.event} ${i.path}: ${i.message}`).join('\n'))
 */
export function checkCompatibility(
  registry: SchemaRegistry,
  published: SchemaSet | undefined,
  options: { mode?: CompatibilityMode } = {},
): CompatibilityReport {
  const mode = options.mode ?? 'BACKWARD'
  const issues: CompatibilityIssue[] = []
  const events: EventCompatibility[] = []
  const accounted = new Set<string>()
  for (const definition of registry.definitions) {
    for (const name of [definition.type, ...definition.previousTypes]) accounted.add(name)
    const found = checkEvent(registry, definition.type, published, definition.compatibility ?? mode)
    issues.push(...found.issues)
    events.push(found.summary)
  }
  for (const retired of registry.retired) {
    for (const name of [retired.type, ...retired.previousTypes]) accounted.add(name)
    const { history } = historyOf(published, retired.type, retired.previousTypes)
    const latest = Math.max(0, ...history.keys())
    if (latest > retired.version) {
      issues.push({
        event: retired.type,
        kind: 'VERSION_DECREASED',
        message: `retired at version ${retired.version}, but version ${latest} was published: its events would read unchanged`,
      })
    }
    events.push({
      event: retired.type,
      mode,
      status: 'retired',
      currentVersion: retired.version,
      publishedVersion: latest || undefined,
    })
  }
  for (const type of Object.keys(published?.events ?? {})) {
    if (accounted.has(type) || published?.events[type]?.retiredInto !== undefined) continue
    issues.push({
      event: type,
      kind: 'EVENT_REMOVED',
      message:
        'was published but is no longer defined: stored events of it would read unchecked; keep it, rename it (previousTypes) or retire it (retireEvent)',
    })
    events.push({ event: type, mode, status: 'removed' })
  }
  return { ok: issues.length === 0, mode, events, issues }
}

function checkEvent(registry: SchemaRegistry, type: string, published: SchemaSet | undefined, mode: CompatibilityMode) {
  const definition = registry.get(type) as NonNullable<ReturnType<SchemaRegistry['get']>>
  const { history, conflicts } = historyOf(published, type, definition.previousTypes)
  const current = registry.jsonSchema(type)
  const version = definition.version
  const issues: CompatibilityIssue[] = conflicts.map((v) => ({
    event: type,
    kind: 'HISTORY_CONFLICT' as const,
    againstVersion: v,
    message: `version ${v} was published with different schemas under its current and previous names`,
  }))
  const latest = Math.max(0, ...history.keys())
  const summary: EventCompatibility = { event: type, mode, status: 'new', currentVersion: version }
  if (latest === 0) return { issues, summary: { ...summary, status: issues.length > 0 ? 'broken' : 'new' } as EventCompatibility }
  summary.publishedVersion = latest
  if (version < latest) {
    issues.push({
      event: type,
      kind: 'VERSION_DECREASED',
      currentVersion: version,
      againstVersion: latest,
      message: `is at version ${version}, but version ${latest} was published`,
    })
  } else if (version === latest) {
    const before = history.get(latest)?.schema as JsonSchema
    if (!sameSchema(before, current)) issues.push(unbumped(type, version, before, current))
  } else if (mode !== 'NONE') {
    const against = isTransitive(mode) ? [...history.keys()].sort((a, b) => a - b) : [latest]
    for (const old of against) {
      const labels = { older: `v${old}`, newer: `v${version}` }
      for (const d of compareSchemas(history.get(old)?.schema as JsonSchema, current, mode, labels)) {
        issues.push({ event: type, currentVersion: version, againstVersion: old, ...d })
      }
    }
  }
  const status = issues.length > 0 ? 'broken' : version === latest ? 'unchanged' : 'evolved'
  return { issues, summary: { ...summary, status } as EventCompatibility }
}

function unbumped(type: string, version: number, before: JsonSchema, current: JsonSchema): CompatibilityIssue {
  const changed = [...new Set(compareSchemas(before, current, 'FULL').map((d) => d.path || '(root)'))]
  const detail = changed.length > 0 ? ` (changed: ${changed.join(', ')})` : ''
  return {
    event: type,
    kind: 'CHANGED_WITHOUT_VERSION_BUMP',
    currentVersion: version,
    againstVersion: version,
    message: `the schema of version ${version} changed but its version did not${detail}: bump it to ${version + 1} and add an upcaster from ${version}`,
  }
}
