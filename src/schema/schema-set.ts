import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { EventfoldError } from '../core/errors.js'
import { canonicalJson, isObject, JSON_SCHEMA_DIALECT, type JsonSchema } from './json-schema.js'
import type { SchemaRegistry } from './registry.js'

export const SCHEMA_SET_FORMAT = 'eventfold.schema-set/1'

/** One event type as published: the JSON Schema of each version, and how its name evolved. */
export interface PublishedEvent {
  /** Names its events were stored under before a rename. */
  previousTypes?: string[]
  /** Set once the type is retired: the types its stored events now read as. */
  retiredInto?: string[]
  /** JSON Schema by version number (as a string key: JSON has no other). Retired types keep theirs. */
  versions: Record<string, JsonSchema>
}

/**
 * The published schemas of a service: every version of every event type that may be in storage.
 * Kept as a file in the repository (`eventfold schema publish`), compared against by `eventfold schema check`.
 */
export interface SchemaSet {
  format: typeof SCHEMA_SET_FORMAT
  jsonSchemaDialect: string
  events: Record<string, PublishedEvent>
}

export const emptySchemaSet = (): SchemaSet => ({ format: SCHEMA_SET_FORMAT, jsonSchemaDialect: JSON_SCHEMA_DIALECT, events: {} })

/**
 * The registry's schemas as a set: each defined type's current version as JSON Schema, and its
 * retired types (with no schema of their own: those live in the published set).
 *
 * @example
 * const current = exportSchemaSet(registry)
 * current.events.Deposited.versions['2'] // { type: 'object', properties: { … } }
 */
export function exportSchemaSet(registry: SchemaRegistry): SchemaSet {
  const set = emptySchemaSet()
  for (const definition of registry.definitions) {
    set.events[definition.type] = {
      ...(definition.previousTypes.length > 0 ? { previousTypes: [...definition.previousTypes] } : {}),
      versions: { [definition.version]: registry.jsonSchema(definition.type) },
    }
  }
  for (const retired of registry.retired) {
    set.events[retired.type] = {
      ...(retired.previousTypes.length > 0 ? { previousTypes: [...retired.previousTypes] } : {}),
      retiredInto: [...retired.into],
      versions: {},
    }
  }
  return set
}

/** Every published version of a type, including those published under its previous names, by version. */
export function historyOf(published: SchemaSet | undefined, type: string, previousTypes: readonly string[] = []) {
  const history = new Map<number, { schema: JsonSchema; publishedAs: string }>()
  const conflicts: number[] = []
  for (const name of [...previousTypes, type]) {
    for (const [key, schema] of Object.entries(published?.events[name]?.versions ?? {})) {
      const version = Number(key)
      const earlier = history.get(version)
      if (earlier !== undefined && canonicalJson(earlier.schema) !== canonicalJson(schema)) conflicts.push(version)
      history.set(version, { schema, publishedAs: name })
    }
  }
  return { history, conflicts }
}

/**
 * The set to publish: everything already published (events are never unpublished: stored data
 * outlives code), with the registry's current versions added and its renames and retirements
 * recorded. A type's history published under an old name moves to its new name.
 */
export function mergeSchemaSets(published: SchemaSet | undefined, current: SchemaSet): SchemaSet {
  const merged = emptySchemaSet()
  const moved = new Set<string>()
  for (const [type, entry] of Object.entries(current.events)) {
    const previous = entry.previousTypes ?? []
    for (const name of previous) moved.add(name)
    const versions: Record<string, JsonSchema> = {}
    for (const [version, { schema }] of historyOf(published, type, previous).history) versions[version] = schema
    Object.assign(versions, entry.versions)
    merged.events[type] = { ...entry, versions }
  }
  for (const [type, entry] of Object.entries(published?.events ?? {})) {
    if (!(type in merged.events) && !moved.has(type)) merged.events[type] = entry
  }
  return merged
}

/** Reads a published set; undefined when the file does not exist yet (nothing was published). */
export function readSchemaSet(path: string): SchemaSet | undefined {
  if (!existsSync(path)) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new EventfoldError('INVALID_ARGUMENT', `${path} is not valid JSON`, { cause: error })
  }
  return parseSchemaSet(parsed, path)
}

export function parseSchemaSet(value: unknown, source = 'the schema set'): SchemaSet {
  if (!isObject(value) || value.format !== SCHEMA_SET_FORMAT || !isObject(value.events)) {
    throw new EventfoldError('INVALID_ARGUMENT', `${source} is not an eventfold schema set (format '${SCHEMA_SET_FORMAT}')`)
  }
  for (const [type, entry] of Object.entries(value.events)) {
    if (!isObject(entry) || !isObject(entry.versions)) {
      throw new EventfoldError('INVALID_ARGUMENT', `${source}: event '${type}' has no versions object`)
    }
  }
  return value as unknown as SchemaSet
}

/** Writes a set with sorted keys and a final newline, so a publish shows up as a small, readable diff. */
export function writeSchemaSet(path: string, set: SchemaSet): void {
  const ordered = { format: set.format, jsonSchemaDialect: set.jsonSchemaDialect, events: JSON.parse(canonicalJson(set.events)) }
  writeFileSync(path, `${JSON.stringify(ordered, null, 2)}\n`)
}

/**
 * The set `eventfold schema publish` writes: the published one plus the registry's current versions.
 *
 * @example
 * writeSchemaSet('schemas.json', publishSchemaSet(registry, readSchemaSet('schemas.json')))
 */
export const publishSchemaSet = (registry: SchemaRegistry, published: SchemaSet | undefined): SchemaSet =>
  mergeSchemaSets(published, exportSchemaSet(registry))
