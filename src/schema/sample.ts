import fc from 'fast-check'
import { EventfoldError } from '../core/errors.js'
import { deref, isObject, type JsonSchema, storedForm } from './json-schema.js'

/** How far nested `$ref`s unfold before optional fields and array items stop being generated. */
const MAX_DEPTH = 6
const MAX_ITEMS = 4

type Arb = fc.Arbitrary<unknown>

/**
 * A fast-check arbitrary of payloads valid under a JSON Schema: types, enums and consts, unions,
 * required and optional fields, lengths, ranges, patterns and common formats. Objects get only
 * their declared fields, as a validated append stores them; `as: 'stored'` also always includes
 * the fields with a default, as stored payloads do.
 *
 * @example
 * fc.sample(arbitraryFromJsonSchema({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }), 3)
 */
export function arbitraryFromJsonSchema(schema: JsonSchema, options: { as?: 'input' | 'stored' } = {}): fc.Arbitrary<unknown> {
  const root = options.as === 'stored' ? (storedForm(schema) as JsonSchema) : schema
  return build(root, root, 0)
}

function build(input: unknown, root: JsonSchema, depth: number): Arb {
  const schema = deref(input, root)
  if (schema === true || (isObject(schema) && Object.keys(schema).length === 0)) return fc.jsonValue({ maxDepth: 2 })
  if (!isObject(schema)) throw new EventfoldError('INVALID_ARGUMENT', `no payload satisfies the schema ${JSON.stringify(schema)}`)
  if (depth > MAX_DEPTH * 4)
    throw new EventfoldError(
      'INVALID_ARGUMENT',
      'the schema nests too deeply to sample (a required field refers back to itself?)',
    )
  if ('const' in schema) return fc.constant(schema.const)
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum)
  const union = (schema.anyOf ?? schema.oneOf) as unknown[] | undefined
  if (Array.isArray(union)) {
    const { anyOf: _a, oneOf: _o, ...base } = schema
    return fc.oneof(...union.map((branch) => build(isObject(branch) ? { ...base, ...branch } : branch, root, depth + 1)))
  }
  if (Array.isArray(schema.allOf)) {
    const { allOf, ...base } = schema
    return build(mergeAll(base, allOf as unknown[], root), root, depth + 1)
  }
  const types = typesOf(schema)
  return fc.oneof(...types.map((type) => ofType(type, schema, root, depth)))
}

function typesOf(schema: JsonSchema): string[] {
  if (typeof schema.type === 'string') return [schema.type]
  if (Array.isArray(schema.type)) return schema.type as string[]
  if (isObject(schema.properties) || schema.additionalProperties !== undefined) return ['object']
  if (schema.items !== undefined) return ['array']
  return ['null', 'boolean', 'number', 'string']
}

/** Shallow merge of `allOf` parts: enough for the object compositions schema libraries emit. */
function mergeAll(base: JsonSchema, parts: unknown[], root: JsonSchema): JsonSchema {
  const merged: JsonSchema = { ...base }
  for (const part of parts.map((p) => deref(p, root))) {
    if (!isObject(part)) continue
    const properties = { ...(merged.properties as object), ...(part.properties as object) }
    const required = [...((merged.required as string[]) ?? []), ...((part.required as string[]) ?? [])]
    Object.assign(merged, part, { properties, required })
  }
  return merged
}

const num = (value: unknown) => (typeof value === 'number' ? value : undefined)

function ofType(type: string, schema: JsonSchema, root: JsonSchema, depth: number): Arb {
  switch (type) {
    case 'null':
      return fc.constant(null)
    case 'boolean':
      return fc.boolean()
    case 'integer':
      return integer(schema)
    case 'number':
      return number(schema)
    case 'string':
      return string(schema)
    case 'array':
      return array(schema, root, depth)
    case 'object':
      return object(schema, root, depth)
    default:
      throw new EventfoldError('INVALID_ARGUMENT', `unknown JSON Schema type '${type}'`)
  }
}

function integer(schema: JsonSchema): Arb {
  const exclusiveMin = num(schema.exclusiveMinimum)
  const exclusiveMax = num(schema.exclusiveMaximum)
  let min = Math.max(
    Math.ceil(num(schema.minimum) ?? -Number.MAX_SAFE_INTEGER),
    exclusiveMin === undefined ? -Infinity : Math.floor(exclusiveMin) + 1,
  )
  let max = Math.min(
    Math.floor(num(schema.maximum) ?? Number.MAX_SAFE_INTEGER),
    exclusiveMax === undefined ? Infinity : Math.ceil(exclusiveMax) - 1,
  )
  const step = num(schema.multipleOf)
  if (step === undefined || !Number.isInteger(step)) return fc.integer({ min, max })
  min = Math.ceil(min / step)
  max = Math.floor(max / step)
  return fc.integer({ min, max }).map((n) => n * step)
}

function number(schema: JsonSchema): Arb {
  const step = num(schema.multipleOf)
  if (step !== undefined) return integer({ ...schema, multipleOf: 1 }).map((n) => (n as number) * step)
  const exclusiveMin = num(schema.exclusiveMinimum)
  const exclusiveMax = num(schema.exclusiveMaximum)
  return fc.double({
    min: exclusiveMin ?? num(schema.minimum) ?? -1e12,
    max: exclusiveMax ?? num(schema.maximum) ?? 1e12,
    minExcluded: exclusiveMin !== undefined,
    maxExcluded: exclusiveMax !== undefined,
    noNaN: true,
    noDefaultInfinity: true,
  })
}

// Plain shapes that every validator's notion of the format accepts (RFC-exotic addresses are not the point).
const FORMATS: Record<string, () => fc.Arbitrary<string>> = {
  email: () =>
    fc
      .tuple(fc.stringMatching(/^[a-z0-9]{1,12}$/), fc.stringMatching(/^[a-z]{1,12}$/), fc.constantFrom('com', 'org', 'io'))
      .map(([local, domain, tld]) => `${local}@${domain}.${tld}`),
  uuid: () => fc.uuid({ version: 4 }),
  'date-time': () => isoDate().map((d) => d.toISOString()),
  date: () => isoDate().map((d) => d.toISOString().slice(0, 10)),
  uri: () => fc.webUrl(),
  url: () => fc.webUrl(),
  ipv4: () => fc.ipV4(),
  ipv6: () => fc.ipV6(),
}

const isoDate = () =>
  fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2999-12-31T23:59:59Z'), noInvalidDate: true })

function string(schema: JsonSchema): Arb {
  const minLength = num(schema.minLength) ?? 0
  const maxLength = num(schema.maxLength)
  // Lengths count code points in JSON Schema but UTF-16 units in most validators: bounded strings stay ASCII.
  const bounded = schema.minLength !== undefined || maxLength !== undefined
  const fitsLength = (s: string) => [...s].length >= minLength && [...s].length <= (maxLength ?? Number.POSITIVE_INFINITY)
  // A pattern is the most precise description (schema libraries emit one for most formats too).
  if (typeof schema.pattern === 'string') {
    const matching = fc.stringMatching(new RegExp(schema.pattern, 'u'))
    return bounded ? matching.filter(fitsLength) : matching
  }
  const format = typeof schema.format === 'string' ? FORMATS[schema.format] : undefined
  if (format !== undefined) return bounded ? format().filter(fitsLength) : format()
  return fc.string({ minLength, maxLength: maxLength ?? Math.max(minLength, 24), unit: bounded ? 'grapheme-ascii' : 'grapheme' })
}

function array(schema: JsonSchema, root: JsonSchema, depth: number): Arb {
  const minLength = num(schema.minItems) ?? 0
  const cap = depth > MAX_DEPTH ? minLength : Math.max(minLength, MAX_ITEMS)
  const maxLength = Math.min(num(schema.maxItems) ?? cap, cap)
  const items = build(schema.items ?? true, root, depth + 1)
  if (schema.uniqueItems === true) return fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) })
  return fc.array(items, { minLength, maxLength })
}

function object(schema: JsonSchema, root: JsonSchema, depth: number): Arb {
  const properties = isObject(schema.properties) ? schema.properties : {}
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : [])
  // Deep in a recursive schema only required fields are built, so sampling ends.
  const keys = Object.keys(properties).filter((key) => depth <= MAX_DEPTH || required.has(key))
  const model = Object.fromEntries(keys.map((key) => [key, build(properties[key], root, depth + 1)]))
  const record = fc.record(model, { requiredKeys: keys.filter((key) => required.has(key)) })
  const extra = schema.additionalProperties
  if (!isObject(extra) || depth > MAX_DEPTH) return record
  // A map-like object (`additionalProperties: schema`): a few free keys beside the declared ones.
  const free = fc.dictionary(
    fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !(k in properties) && k !== '__proto__'),
    build(extra, root, depth + 1),
    { maxKeys: 3 },
  )
  return fc.tuple(record, free).map(([declared, rest]) => ({ ...rest, ...(declared as object) }))
}
