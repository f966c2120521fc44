import {
  compareLengths,
  compareNumbers,
  compareStrings,
  lowerBound,
  num,
  type Report,
  upperBound,
  where,
} from './compare-ranges.js'
import { canonicalJson, deref, isObject, type JsonSchema, storedForm } from './json-schema.js'

export type DifferenceKind =
  | 'TYPE_NARROWED'
  | 'ENUM_NARROWED'
  | 'REQUIRED_FIELD_MISSING'
  | 'FIELD_MADE_REQUIRED'
  | 'FIELD_NOT_ALLOWED'
  | 'RANGE_NARROWED'
  | 'PATTERN_CHANGED'
  | 'FORMAT_CHANGED'
  | 'NOT_PROVABLE'

/** One way a payload that the writer's schema allows may be refused by the reader's. */
export interface SchemaDifference {
  kind: DifferenceKind
  /** The field, dotted from the payload's root; `[]` marks array items, `*` any other key. Empty for the root. */
  path: string
  message: string
}

/** Names the two sides in messages, e.g. `{ writer: 'v1', reader: 'v2' }`. */
export interface Sides {
  writer: string
  reader: string
}

type Schema = JsonSchema | boolean

interface Context {
  writerRoot: JsonSchema
  readerRoot: JsonSchema
  sides: Sides
  found: SchemaDifference[]
  /** Pairs already compared on this path, so recursive `$ref`s end. */
  seen: WeakMap<object, WeakSet<object>>
}

const TYPES = ['null', 'boolean', 'integer', 'number', 'string', 'array', 'object'] as const

const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`)
const show = (value: unknown) => canonicalJson(value)

/**
 * Whether every payload valid under `writer` is valid under `reader`, keyword by keyword; each way
 * it may not be is reported with its field. The writer's payloads are taken as stored: a validated
 * append stores the schema's output, so they hold the fields with defaults, and no field the writer
 * never declared (such a field is absent rather than anything at all).
 */
export function differences(writer: JsonSchema, reader: JsonSchema, sides: Sides): SchemaDifference[] {
  const stored = storedForm(writer) as JsonSchema
  const context: Context = { writerRoot: stored, readerRoot: reader, sides, found: [], seen: new WeakMap() }
  compare(stored, reader, '', context)
  return context.found
}

function compare(writerSchema: Schema, readerSchema: Schema, path: string, ctx: Context): void {
  const w = deref(writerSchema, ctx.writerRoot) as Schema
  const r = deref(readerSchema, ctx.readerRoot) as Schema
  const report: Report = (kind, message) => {
    ctx.found.push({ kind, path, message })
  }
  if (r === true || (isObject(r) && Object.keys(r).length === 0) || w === false) return
  if (r === false) {
    report('FIELD_NOT_ALLOWED', `${where(path)}: ${ctx.sides.reader} accepts no value here`)
    return
  }
  const writer = w === true ? {} : w
  if (isObject(writer) && isObject(r)) {
    if (alreadyCompared(writer, r, ctx)) return
    compareObjects(writer, r, path, ctx, report)
  }
}

function alreadyCompared(w: object, r: object, ctx: Context): boolean {
  const readers = ctx.seen.get(w) ?? new WeakSet()
  ctx.seen.set(w, readers)
  if (readers.has(r)) return true
  readers.add(r)
  return false
}

function compareObjects(w: JsonSchema, r: JsonSchema, path: string, ctx: Context, report: Report): void {
  const writerBranches = branches(w)
  if (writerBranches !== undefined) {
    for (const branch of writerBranches) compare(branch, r, path, ctx)
    return
  }
  const readerBranches = branches(r)
  if (readerBranches !== undefined) {
    compareToUnion(w, readerBranches, path, ctx)
    return
  }
  if (Array.isArray(r.allOf)) {
    for (const part of r.allOf as Schema[]) compare(w, part, path, ctx)
    return
  }
  if (compareValues(w, r, path, ctx, report)) return
  const writerTypes = typesOf(w)
  const readerTypes = typesOf(r)
  const { sides } = ctx
  if (readerTypes !== undefined) {
    if (writerTypes === undefined) {
      report('TYPE_NARROWED', `${where(path)}: ${sides.writer} allows any type, ${sides.reader} only ${readerTypes.join(' or ')}`)
    } else {
      for (const type of writerTypes.filter((t) => !accepts(readerTypes, t))) {
        report(
          'TYPE_NARROWED',
          `${where(path)}: ${sides.writer} allows ${type}, ${sides.reader} only ${readerTypes.join(' or ')}`,
        )
      }
    }
  }
  const shared = (writerTypes ?? TYPES).filter((t) => readerTypes === undefined || accepts(readerTypes, t))
  if (shared.includes('number') || shared.includes('integer')) compareNumbers(w, r, path, ctx.sides, report)
  if (shared.includes('string')) compareStrings(w, r, path, ctx.sides, report)
  if (shared.includes('array')) compareArrays(w, r, path, ctx, report)
  if (shared.includes('object')) compareFields(w, r, path, ctx, report)
  compareUnsupported(w, r, path, report)
}

/** `anyOf`/`oneOf` with the schema's other keywords folded into each branch. */
function branches(schema: JsonSchema): Schema[] | undefined {
  const list = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined
  if (!Array.isArray(list)) return undefined
  const { anyOf: _a, oneOf: _o, ...base } = schema
  if (Object.keys(base).length === 0) return list
  return list.map((branch) => (isObject(branch) ? { ...base, ...branch } : branch))
}

/** A writer fits a reader union when one branch takes all of it; otherwise the closest branch's reasons are reported. */
function compareToUnion(w: JsonSchema, readerBranches: Schema[], path: string, ctx: Context): void {
  let best: SchemaDifference[] | undefined
  for (const branch of readerBranches) {
    const trial: Context = { ...ctx, found: [], seen: new WeakMap() }
    compare(w, branch, path, trial)
    if (trial.found.length === 0) return
    if (best === undefined || trial.found.length < best.length) best = trial.found
  }
  ctx.found.push(...(best ?? []))
}

function valuesOf(schema: JsonSchema): unknown[] | undefined {
  if ('const' in schema) return [schema.const]
  return Array.isArray(schema.enum) ? schema.enum : undefined
}

/** Enums and consts. Returns true when they settled the comparison. */
function compareValues(w: JsonSchema, r: JsonSchema, path: string, ctx: Context, report: Report): boolean {
  const writerValues = valuesOf(w)
  const readerValues = valuesOf(r)
  const { sides } = ctx
  if (readerValues !== undefined) {
    if (writerValues === undefined) {
      report(
        'ENUM_NARROWED',
        `${where(path)}: ${sides.reader} accepts only ${readerValues.map(show).join(', ')}; ${sides.writer} allows other values`,
      )
      return true
    }
    const allowed = new Set(readerValues.map(show))
    for (const value of writerValues.filter((v) => !allowed.has(show(v)))) {
      report('ENUM_NARROWED', `${where(path)}: ${sides.writer} allows ${show(value)}, which ${sides.reader} does not accept`)
    }
    return true
  }
  if (writerValues === undefined) return false
  // A fixed set of values against an open schema: check each value on its own.
  for (const value of writerValues.filter((v) => !fits(r, v))) {
    report('ENUM_NARROWED', `${where(path)}: ${sides.writer} allows ${show(value)}, which ${sides.reader} does not accept`)
  }
  return true
}

/** Whether one literal passes the reader's scalar keywords (nested objects and arrays are taken as fitting). */
function fits(r: JsonSchema, value: unknown): boolean {
  const types = typesOf(r)
  if (types !== undefined && !accepts(types, jsonType(value))) return false
  if (typeof value === 'number') {
    const [low, high] = [lowerBound(r), upperBound(r)]
    if (low !== undefined && (value < low.value || (low.exclusive && value === low.value))) return false
    if (high !== undefined && (value > high.value || (high.exclusive && value === high.value))) return false
    const step = num(r.multipleOf)
    return step === undefined || Number.isInteger(value / step)
  }
  if (typeof value === 'string') {
    const length = [...value].length
    if (length < (num(r.minLength) ?? 0) || length > (num(r.maxLength) ?? Number.POSITIVE_INFINITY)) return false
    return typeof r.pattern !== 'string' || new RegExp(r.pattern, 'u').test(value)
  }
  return true
}

const jsonType = (value: unknown): string =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'array'
      : typeof value === 'number'
        ? Number.isInteger(value)
          ? 'integer'
          : 'number'
        : typeof value

function typesOf(schema: JsonSchema): string[] | undefined {
  if (typeof schema.type === 'string') return [schema.type]
  if (Array.isArray(schema.type)) return schema.type as string[]
  return undefined
}

const accepts = (readerTypes: string[], type: string) =>
  readerTypes.includes(type) || (type === 'integer' && readerTypes.includes('number'))

function compareArrays(w: JsonSchema, r: JsonSchema, path: string, ctx: Context, report: Report): void {
  compareLengths(w, r, ['minItems', 'maxItems'], 'items', path, ctx.sides, report)
  if (r.uniqueItems === true && w.uniqueItems !== true) {
    report('RANGE_NARROWED', `${where(path)}: ${ctx.sides.reader} requires unique items, ${ctx.sides.writer} does not`)
  }
  compare((w.items ?? true) as Schema, (r.items ?? true) as Schema, `${path}[]`, ctx)
}

const propertiesOf = (schema: JsonSchema) => (isObject(schema.properties) ? (schema.properties as Record<string, Schema>) : {})
const requiredOf = (schema: JsonSchema) => new Set(Array.isArray(schema.required) ? (schema.required as string[]) : [])

function compareFields(w: JsonSchema, r: JsonSchema, path: string, ctx: Context, report: Report): void {
  const { sides } = ctx
  const [wProps, rProps] = [propertiesOf(w), propertiesOf(r)]
  const [wRequired, rRequired] = [requiredOf(w), requiredOf(r)]
  const wExtra = w.additionalProperties
  const rExtra = r.additionalProperties
  for (const field of rRequired) {
    if (wRequired.has(field)) continue
    const at = join(path, field)
    if (field in wProps || isObject(wExtra)) {
      ctx.found.push({
        kind: 'FIELD_MADE_REQUIRED',
        path: at,
        message: `'${at}': required by ${sides.reader}, optional in ${sides.writer}`,
      })
    } else {
      ctx.found.push({
        kind: 'REQUIRED_FIELD_MISSING',
        path: at,
        message: `'${at}': required by ${sides.reader}, absent from ${sides.writer}`,
      })
    }
  }
  for (const [field, schema] of Object.entries(wProps)) {
    const at = join(path, field)
    if (field in rProps) compare(schema, rProps[field] as Schema, at, ctx)
    else if (rExtra === false) {
      ctx.found.push({
        kind: 'FIELD_NOT_ALLOWED',
        path: at,
        message: `'${at}': ${sides.writer} may have it, ${sides.reader} forbids fields it does not declare`,
      })
    } else if (isObject(rExtra)) compare(schema, rExtra, at, ctx)
  }
  if (isObject(wExtra)) {
    // A writer with open-ended keys (a record/map) may use any name, including ones the reader declares.
    for (const [field, schema] of Object.entries(rProps)) if (!(field in wProps)) compare(wExtra, schema, join(path, field), ctx)
    if (rExtra === false)
      report('FIELD_NOT_ALLOWED', `${where(path)}: ${sides.writer} allows any key, ${sides.reader} forbids undeclared keys`)
    else if (isObject(rExtra)) compare(wExtra, rExtra, join(path, '*'), ctx)
  }
}

// Keywords this check cannot reason about: a reader that adds or changes one is reported, not trusted.
const UNSUPPORTED = [
  'not',
  'if',
  'then',
  'else',
  'patternProperties',
  'propertyNames',
  'dependentRequired',
  'dependentSchemas',
  'prefixItems',
  'contains',
  'minProperties',
  'maxProperties',
]

function compareUnsupported(w: JsonSchema, r: JsonSchema, path: string, report: Report): void {
  for (const keyword of UNSUPPORTED) {
    if (keyword in r && show(r[keyword]) !== show(w[keyword])) {
      report('NOT_PROVABLE', `${where(path)}: '${keyword}' differs, and this check cannot prove the change safe`)
    }
  }
}
