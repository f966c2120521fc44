import type { StandardJSONSchemaV1, StandardSchemaV1 } from '@standard-schema/spec'
import type { EventDefinition } from './define.js'
import { SchemaDefinitionError } from './errors.js'

/** A JSON Schema object (draft 2020-12; `definitions` and draft-07 refs are understood too). */
export type JsonSchema = { [keyword: string]: unknown }

/**
 * Turns a schema whose library does not implement Standard JSON Schema into JSON Schema (e.g.
 * valibot's `toJsonSchema`). Returns `object` so any library's JSON Schema type fits.
 */
export type JsonSchemaConverter = (schema: StandardSchemaV1, type: string) => object

export const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema'

type WithJsonSchema = Partial<StandardJSONSchemaV1.Props>

/**
 * The JSON Schema of a definition's current version: its `jsonSchema` option, else the schema's own
 * Standard JSON Schema (the *input* side: what a writer may send), else the registry's converter.
 */
export function jsonSchemaOf(definition: EventDefinition, converter?: JsonSchemaConverter): JsonSchema {
  const given = definition.jsonSchemaOption
  let schema: object | undefined
  try {
    if (given !== undefined) schema = typeof given === 'function' ? given() : given
    else {
      const standard = definition.schema['~standard'] as WithJsonSchema
      if (typeof standard.jsonSchema?.input === 'function') schema = standard.jsonSchema.input({ target: 'draft-2020-12' })
      else if (converter !== undefined) schema = converter(definition.schema, definition.type)
    }
  } catch (error) {
    throw new SchemaDefinitionError(definition.type, `its schema could not be turned into JSON Schema`, { cause: error })
  }
  if (schema === undefined) {
    throw new SchemaDefinitionError(
      definition.type,
      'its schema does not implement Standard JSON Schema: pass jsonSchema to defineEvent or toJsonSchema to the registry',
    )
  }
  if (!isObject(schema)) throw new SchemaDefinitionError(definition.type, 'its JSON Schema is not an object')
  // The dialect is stated once for a whole schema set; per schema it is noise in diffs.
  const { $schema: _dialect, ...rest } = schema
  return rest
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** JSON text with object keys sorted: equal schemas give equal text, and files diff cleanly. */
export function canonicalJson(value: unknown, indent?: number): string {
  return JSON.stringify(sortKeys(value), null, indent)
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (!isObject(value)) return value
  const sorted: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys(value[key])
  return sorted
}

// Annotations do not change which payloads a schema accepts: editing them needs no new version.
const ANNOTATIONS = new Set(['title', 'description', 'examples', '$comment', 'deprecated', '$schema'])

function withoutAnnotations(value: unknown, parentKey?: string): unknown {
  if (Array.isArray(value)) return value.map((item) => withoutAnnotations(item))
  if (!isObject(value)) return value
  const out: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    // Under `properties` and `$defs` the keys are names, not keywords: a field may be called `title`.
    const isName = parentKey === 'properties' || parentKey === '$defs' || parentKey === 'definitions'
    if (!isName && ANNOTATIONS.has(key)) continue
    if (!isName && (key === 'enum' || key === 'const' || key === 'default')) {
      out[key] = item // values, not schemas
      continue
    }
    out[key] = withoutAnnotations(item, isName ? undefined : key)
  }
  return out
}

/** Whether two schemas accept the same payloads, as far as their text tells (annotations aside). */
export const sameSchema = (a: JsonSchema, b: JsonSchema): boolean =>
  canonicalJson(withoutAnnotations(a)) === canonicalJson(withoutAnnotations(b))

/** Follows a local `$ref` (`#/$defs/…`, `#/definitions/…`) from the root schema; other refs are left as they are. */
export function deref(schema: unknown, root: JsonSchema): unknown {
  let current = schema
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string' && hops < 32; hops++) {
    const ref: string = current.$ref
    if (!ref.startsWith('#')) return current
    let target: unknown = root
    for (const part of ref.slice(1).split('/').filter(Boolean)) {
      target = isObject(target) ? target[part.replaceAll('~1', '/').replaceAll('~0', '~')] : undefined
    }
    if (target === undefined) return current
    const { $ref: _ref, ...siblings } = current
    current = Object.keys(siblings).length === 0 ? target : { ...(target as JsonSchema), ...siblings }
  }
  return current
}

const SUBSCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems']
const SUBSCHEMA_MAPS = ['properties', '$defs', 'definitions', 'patternProperties']
const SUBSCHEMAS = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains']

/**
 * The schema of payloads as *stored*: a validated append stores the schema's output, where every
 * field with a `default` is present. So it is the input schema with those fields required: what a
 * writer leaves out, storage still has.
 */
export function storedForm(schema: unknown): unknown {
  if (!isObject(schema)) return schema
  const out: JsonSchema = { ...schema }
  for (const key of SUBSCHEMA_LISTS) if (Array.isArray(schema[key])) out[key] = (schema[key] as unknown[]).map(storedForm)
  for (const key of SUBSCHEMAS) if (key in schema) out[key] = storedForm(schema[key])
  for (const key of SUBSCHEMA_MAPS) {
    if (isObject(schema[key])) out[key] = Object.fromEntries(Object.entries(schema[key]).map(([k, v]) => [k, storedForm(v)]))
  }
  if (isObject(schema.properties)) {
    const defaulted = Object.entries(schema.properties)
      .filter(([, p]) => isObject(p) && 'default' in p)
      .map(([k]) => k)
    const required = Array.isArray(schema.required) ? (schema.required as string[]) : []
    const missing = defaulted.filter((k) => !required.includes(k))
    if (missing.length > 0) out.required = [...required, ...missing]
  }
  return out
}
