import type { EventData, EventSchemaPort, RecordedEvent } from '../core/types.js'
import type { AnyEventDefinition, EventDefinition, RetiredEventDefinition } from './define.js'
import { SchemaDefinitionError } from './errors.js'
import { type JsonSchema, type JsonSchemaConverter, jsonSchemaOf } from './json-schema.js'
import { type DefinitionLookup, upcastEvent } from './upcast.js'
import { type AppendRules, validateAppend } from './validate.js'

export interface SchemaRegistryOptions {
  /** An append of a type the registry does not define: `'reject'` (the default, `UNKNOWN_EVENT_TYPE`) or `'allow'` (stored unchecked). */
  unknownTypes?: 'reject' | 'allow'
  /** For schemas that do not implement Standard JSON Schema and have no `jsonSchema` option. */
  toJsonSchema?: JsonSchemaConverter
}

const BRAND = Symbol.for('eventfold.schemaRegistry')

/**
 * The event definitions of a service. Attached to a store (`{ registry }`), it validates appends and
 * upcasts reads; the schema tools (`eventfold/schema`) export, compare and publish its schemas.
 */
export class SchemaRegistry<Defs extends readonly AnyEventDefinition[] = readonly AnyEventDefinition[]>
  implements EventSchemaPort
{
  readonly [BRAND] = true
  readonly definitions: readonly EventDefinition[]
  readonly retired: readonly RetiredEventDefinition[]
  readonly unknownTypes: 'reject' | 'allow'
  readonly #current = new Map<string, EventDefinition>()
  readonly #byStoredName = new Map<string, EventDefinition | RetiredEventDefinition>()
  readonly #refusals = new Map<string, string>()
  readonly #sources = new Map<string, string[]>()
  readonly #jsonSchemas = new Map<string, JsonSchema>()
  readonly #converter: JsonSchemaConverter | undefined
  readonly #rules: AppendRules
  readonly #lookup: DefinitionLookup

  constructor(definitions: Defs, options: SchemaRegistryOptions = {}) {
    if (!Array.isArray(definitions)) throw new SchemaDefinitionError('registry', 'definitions must be a list')
    const unknownTypes = options.unknownTypes ?? 'reject'
    if (unknownTypes !== 'reject' && unknownTypes !== 'allow') {
      throw new SchemaDefinitionError('registry', `unknownTypes must be 'reject' or 'allow'`)
    }
    this.unknownTypes = unknownTypes
    this.#converter = options.toJsonSchema
    this.definitions = definitions.filter((d): d is EventDefinition => d?.kind === 'event')
    this.retired = definitions.filter((d): d is RetiredEventDefinition => d?.kind === 'retired')
    if (this.definitions.length + this.retired.length !== definitions.length) {
      throw new SchemaDefinitionError('registry', 'every entry must come from defineEvent or retireEvent')
    }
    this.#index()
    this.#rules = {
      definition: (type) => this.#current.get(type),
      refusal: (type) => this.#refusals.get(type),
      unknownTypes,
    }
    this.#lookup = { stored: (type) => this.#byStoredName.get(type), current: (type) => this.#current.get(type) }
  }

  #claim(name: string, owner: EventDefinition | RetiredEventDefinition) {
    if (this.#byStoredName.has(name)) throw new SchemaDefinitionError(name, 'is defined more than once in the registry')
    this.#byStoredName.set(name, owner)
  }

  #index() {
    for (const definition of this.definitions) {
      this.#claim(definition.type, definition)
      this.#current.set(definition.type, definition)
      this.#sources.set(definition.type, [definition.type, ...definition.previousTypes])
      for (const old of definition.previousTypes) {
        this.#claim(old, definition)
        this.#refusals.set(old, `'${old}' was renamed to '${definition.type}': append that`)
      }
    }
    for (const retired of this.retired) {
      for (const name of [retired.type, ...retired.previousTypes]) {
        this.#claim(name, retired)
        this.#refusals.set(name, `'${name}' is retired: append ${retired.into.map((t) => `'${t}'`).join(', ')} instead`)
      }
      for (const target of retired.into) {
        const sources = this.#sources.get(target)
        if (sources === undefined) throw new SchemaDefinitionError(retired.type, `into names '${target}', which is not defined`)
        sources.push(retired.type, ...retired.previousTypes)
      }
    }
  }

  /** The current definition of a type, if the registry has one. */
  get(type: string): EventDefinition | undefined {
    return this.#current.get(type)
  }

  /** The JSON Schema of a type's current version (the input side: what an append may send). */
  jsonSchema(type: string): JsonSchema {
    const definition = this.#current.get(type)
    if (definition === undefined) throw new SchemaDefinitionError(type, 'is not a defined event type')
    let schema = this.#jsonSchemas.get(type)
    if (schema === undefined) {
      schema = jsonSchemaOf(definition, this.#converter)
      this.#jsonSchemas.set(type, schema)
    }
    return schema
  }

  prepareAppend(events: readonly EventData[]): EventData[] | Promise<EventData[]> {
    return validateAppend(this.#rules, events)
  }

  upcast(event: RecordedEvent): RecordedEvent[] {
    return upcastEvent(this.#lookup, event)
  }

  storedTypesOf(types: readonly string[]): string[] {
    return [...new Set(types.flatMap((type) => this.#sources.get(type) ?? [type]))]
  }
}

/** Whether a value is a registry, also one made by another copy of this package (the CLI loads the user's). */
export const isSchemaRegistry = (value: unknown): value is SchemaRegistry =>
  typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true

/**
 * Groups a service's event definitions. Pass it to any store factory as `{ registry }`.
 *
 * @example
 * const registry = createSchemaRegistry([Opened, Deposited], { unknownTypes: 'reject' })
 * const store = createSqliteEventStore({ path: 'events.db', registry })
 */
export function createSchemaRegistry<const Defs extends readonly AnyEventDefinition[]>(
  definitions: Defs,
  options?: SchemaRegistryOptions,
): SchemaRegistry<Defs> {
  return new SchemaRegistry(definitions, options)
}

/** The recorded event type of a definition, or the union over a registry's definitions. */
export type EventOf<T> =
  T extends EventDefinition<infer Type, infer Data, infer _Input>
    ? RecordedEvent<Type, Data>
    : T extends SchemaRegistry<infer Defs>
      ? EventOf<Extract<Defs[number], { kind: 'event' }>>
      : never
