import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { EventData } from '../core/types.js'
import type { EventDefinition } from './define.js'
import { InvalidEventError, type SchemaIssue, UnknownEventTypeError } from './errors.js'
import { SCHEMA_VERSION_KEY } from './upcast.js'

type Result = StandardSchemaV1.Result<unknown>

/** What an append may hold, per type name: a current definition, or a reason the name may not be appended. */
export interface AppendRules {
  definition(type: string): EventDefinition | undefined
  /** Why a known name cannot be appended (it was renamed or retired); undefined when it is simply unknown. */
  refusal(type: string): string | undefined
  unknownTypes: 'reject' | 'allow'
}

export const toIssues = (issues: readonly StandardSchemaV1.Issue[]): SchemaIssue[] =>
  issues.map((issue) => ({
    path: (issue.path ?? []).map((segment) => {
      const key = typeof segment === 'object' && segment !== null ? segment.key : segment
      return typeof key === 'number' ? key : String(key)
    }),
    message: issue.message,
  }))

const isPlainMetadata = (metadata: unknown): metadata is Record<string, unknown> => {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return false
  const proto = Object.getPrototypeOf(metadata)
  return proto === Object.prototype || proto === null
}

function accepted(index: number, definition: EventDefinition, event: EventData, result: Result): EventData {
  if (result.issues !== undefined) throw new InvalidEventError(index, definition.type, toIssues(result.issues))
  // Metadata that is not a plain object is left for the core's own check to refuse.
  const metadata = event.metadata === undefined || isPlainMetadata(event.metadata) ? event.metadata : undefined
  return {
    ...event,
    // The schema's output is what is stored: defaults filled in, unknown keys dropped (zod's default).
    data: result.value as EventData['data'],
    metadata: metadata === event.metadata ? { ...metadata, [SCHEMA_VERSION_KEY]: definition.version } : event.metadata,
  }
}

/**
 * Validates each event of an append against its type's schema and stamps its schema version.
 * Synchronous schemas keep it synchronous; any async one makes the whole result a promise. The
 * first invalid event, by index, is the one reported.
 */
export function validateAppend(rules: AppendRules, events: readonly EventData[]): EventData[] | Promise<EventData[]> {
  // Plain loops: this runs on every append, and its budget is a few percent of one.
  // Names first, so a refused type is reported before any (possibly async) schema runs.
  const definitions: (EventDefinition | undefined)[] = new Array(events.length)
  for (let i = 0; i < events.length; i++) definitions[i] = definitionFor(rules, events[i] as EventData, i)
  const results: (Result | Promise<Result> | undefined)[] = new Array(events.length)
  let async = false
  try {
    for (let i = 0; i < events.length; i++) {
      const result = definitions[i]?.schema['~standard'].validate((events[i] as EventData).data)
      if (result instanceof Promise) async = true
      results[i] = result
    }
  } catch (error) {
    for (const result of results) if (result instanceof Promise) result.catch(() => {})
    throw error
  }
  const finish = (settled: readonly (Result | undefined)[]) => {
    const out: EventData[] = new Array(events.length)
    for (let i = 0; i < events.length; i++) {
      const definition = definitions[i]
      const event = events[i] as EventData
      out[i] = definition === undefined ? event : accepted(i, definition, event, settled[i] as Result)
    }
    return out
  }
  return async ? Promise.all(results).then(finish) : finish(results as (Result | undefined)[])
}

function definitionFor(rules: AppendRules, event: EventData, index: number): EventDefinition | undefined {
  // Malformed events pass untouched: the core refuses them with their own, more precise code.
  if (typeof event !== 'object' || event === null || typeof event.type !== 'string') return undefined
  const definition = rules.definition(event.type)
  if (definition !== undefined) return definition
  const refusal = rules.refusal(event.type)
  if (refusal !== undefined) throw new InvalidEventError(index, event.type, [{ path: [], message: refusal }])
  if (rules.unknownTypes === 'reject') throw new UnknownEventTypeError(index, event.type)
  return undefined
}
