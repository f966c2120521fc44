import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { EventData, Metadata, RecordedEvent } from '../core/types.js'
import { SchemaDefinitionError } from './errors.js'
import type { CompatibilityMode } from './modes.js'

/**
 * Turns the payload of one version into the next version's. It gets the stored event too (as
 * stored: for its metadata or `recordedAt`). Old payloads are only described by their published JSON
 * Schema, so the parameter is `unknown` unless you annotate it: `1: (old: { amount: number }) => …`.
 */
// A method signature makes the parameter bivariant, which is what lets an upcaster annotate it.
export type Upcaster = { up(data: unknown, stored: RecordedEvent): unknown }['up']

/** Upcasters by the version they start from: `1` turns version 1 into version 2, and so on. */
export type Upcasters = Readonly<Record<number, Upcaster>>

export interface DefineEventOptions<S extends StandardSchemaV1> {
  /** The current version, from 1. Bump it whenever the schema changes, and add an upcaster from the old one. */
  version: number
  /** Any Standard Schema (zod, valibot, arktype…): validates appends and gives the payload's type. */
  schema: S
  /** One per older version: `{ 1: v1 => v2, 2: v2 => v3 }`. Required for every version below `version`. */
  upcasters?: Upcasters
  /** Names this event was stored under before a rename; events stored under them read as this type. */
  previousTypes?: readonly string[]
  /**
   * This event's JSON Schema, when its schema library does not implement Standard JSON Schema
   * (zod 4 and arktype do; valibot through `toStandardJsonSchema`).
   */
  jsonSchema?: object | (() => object)
  /** Compatibility mode for this event alone, overriding the one the check runs with. */
  compatibility?: CompatibilityMode
}

export interface EventDefinition<Type extends string = string, Data = unknown, Input = Data> {
  readonly kind: 'event'
  readonly type: Type
  readonly version: number
  readonly schema: StandardSchemaV1<Input, Data>
  readonly upcasters: Upcasters
  readonly previousTypes: readonly string[]
  readonly jsonSchemaOption: object | (() => object) | undefined
  readonly compatibility: CompatibilityMode | undefined
  /** An event ready to append, typed by the schema's input. */
  create(data: Input, options?: { metadata?: Metadata; id?: string }): EventData<Type>
  /** Narrows a read event to this type. Reads through a registry are already at the current version. */
  is(event: RecordedEvent<string, unknown>): event is RecordedEvent<Type, Data>
}

/** What one stored event of a retired type becomes; `version` defaults to the target's current one. */
export interface Replacement {
  type: string
  data: unknown
  version?: number
}

export interface RetireEventOptions {
  /** The last version the retired type was written at. */
  version: number
  /** The types its stored events read as: a filter on any of them also finds the retired events. */
  into: readonly string[]
  /** Upcasters from older versions up to `version`, as for `defineEvent`. */
  upcasters?: Upcasters
  /** Turns one stored event (upcast to `version`) into the events readers see: one, several, or none. */
  replaceWith(data: unknown, stored: RecordedEvent): Replacement[]
  /** Names it was stored under before an earlier rename. */
  previousTypes?: readonly string[]
}

export interface RetiredEventDefinition<Type extends string = string> {
  readonly kind: 'retired'
  readonly type: Type
  readonly version: number
  readonly into: readonly string[]
  readonly upcasters: Upcasters
  readonly previousTypes: readonly string[]
  readonly replaceWith: RetireEventOptions['replaceWith']
}

export type AnyEventDefinition = EventDefinition<string, unknown, unknown> | RetiredEventDefinition

function checkVersioning(type: string, version: unknown, upcasters: unknown, previousTypes: unknown): void {
  if (typeof type !== 'string' || type === '')
    throw new SchemaDefinitionError(String(type), 'the type must be a non-empty string')
  if (!Number.isSafeInteger(version) || (version as number) < 1) {
    throw new SchemaDefinitionError(type, `version must be a whole number ≥ 1, got ${String(version)}`)
  }
  const given = (upcasters ?? {}) as Record<string, unknown>
  for (const [key, fn] of Object.entries(given)) {
    const from = Number(key)
    if (!Number.isSafeInteger(from) || from < 1 || from >= (version as number)) {
      throw new SchemaDefinitionError(type, `upcaster '${key}' does not start from a version below ${String(version)}`)
    }
    if (typeof fn !== 'function') throw new SchemaDefinitionError(type, `upcaster ${key} must be a function`)
  }
  // A gap would only show when an old event is read, maybe months later: refuse it now.
  for (let from = 1; from < (version as number); from++) {
    if (given[from] === undefined) throw new SchemaDefinitionError(type, `no upcaster from version ${from} to ${from + 1}`)
  }
  if (previousTypes !== undefined) {
    const names = previousTypes as unknown[]
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && n !== '' && n !== type)) {
      throw new SchemaDefinitionError(type, 'previousTypes must be a list of other, non-empty type names')
    }
  }
}

/**
 * Defines an event: its type name, current schema version, payload schema and the upcasters that
 * bring older stored versions up to date. Group definitions with `createSchemaRegistry`.
 *
 * @example
 * const Deposited = defineEvent('Deposited', {
 *   version: 2,
 *   schema: z.object({ amount: z.number(), currency: z.enum(['EUR', 'USD']) }),
 *   upcasters: { 1: (old: { amount: number }) => ({ ...old, currency: 'EUR' }) },
 * })
 * await store.appendToStream('account-1', [Deposited.create({ amount: 10, currency: 'EUR' })])
 */
export function defineEvent<const Type extends string, S extends StandardSchemaV1>(
  type: Type,
  options: DefineEventOptions<S>,
): EventDefinition<Type, StandardSchemaV1.InferOutput<S>, StandardSchemaV1.InferInput<S>> {
  checkVersioning(type, options?.version, options?.upcasters, options?.previousTypes)
  const schema = options.schema as StandardSchemaV1 | undefined
  if (typeof schema?.['~standard']?.validate !== 'function') {
    throw new SchemaDefinitionError(type, 'schema must be a Standard Schema (zod, valibot, arktype…)')
  }
  return {
    kind: 'event',
    type,
    version: options.version,
    schema: options.schema as StandardSchemaV1<StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>>,
    upcasters: { ...options.upcasters },
    previousTypes: [...(options.previousTypes ?? [])],
    jsonSchemaOption: options.jsonSchema,
    compatibility: options.compatibility,
    create: (data, extra) => ({ type, data: data as EventData['data'], metadata: extra?.metadata, id: extra?.id }),
    is: (event): event is RecordedEvent<Type, StandardSchemaV1.InferOutput<S>> => event.type === type,
  }
}

/**
 * Retires a type: nothing new may be appended under it, and its stored events read as other
 * types: renamed, split into several events, or dropped. Put it in the registry beside the
 * definitions of the types in `into`.
 *
 * @example
 * const OpenedWithDeposit = retireEvent('OpenedWithDeposit', {
 *   version: 1,
 *   into: ['Opened', 'Deposited'],
 *   replaceWith: (old: { owner: string; amount: number }) => [
 *     { type: 'Opened', data: { owner: old.owner } },
 *     { type: 'Deposited', data: { amount: old.amount, currency: 'EUR' } },
 *   ],
 * })
 */
export function retireEvent<const Type extends string>(type: Type, options: RetireEventOptions): RetiredEventDefinition<Type> {
  checkVersioning(type, options?.version, options?.upcasters, options?.previousTypes)
  if (!Array.isArray(options.into) || options.into.length === 0 || !options.into.every((t) => typeof t === 'string')) {
    throw new SchemaDefinitionError(type, 'into must list the types its events read as')
  }
  if (typeof options.replaceWith !== 'function') throw new SchemaDefinitionError(type, 'replaceWith must be a function')
  return {
    kind: 'retired',
    type,
    version: options.version,
    into: [...options.into],
    upcasters: { ...options.upcasters },
    previousTypes: [...(options.previousTypes ?? [])],
    replaceWith: options.replaceWith,
  }
}
