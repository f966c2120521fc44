import { createHash } from 'node:crypto'
import type { JsonValue, RecordedEvent } from '../core/types.js'
import type { EventDefinition, RetiredEventDefinition, Upcasters } from './define.js'
import { UpcastError } from './errors.js'

/** The metadata key holding the schema version an event was written at. Absent reads as version 1. */
export const SCHEMA_VERSION_KEY = 'schemaVersion'

/** How the upcaster finds the definition behind a stored type name. */
export interface DefinitionLookup {
  /** By stored name: a current type, a previous name of one, or a retired type (or its previous names). */
  stored(type: string): EventDefinition | RetiredEventDefinition | undefined
  /** By current type name only. */
  current(type: string): EventDefinition | undefined
}

export function storedVersion(event: RecordedEvent): number {
  const version = event.metadata?.[SCHEMA_VERSION_KEY]
  if (version === undefined) return 1
  if (typeof version === 'number' && Number.isSafeInteger(version) && version >= 1) return version
  throw new UpcastError(event.id, event.type, undefined, `metadata.${SCHEMA_VERSION_KEY} is not a whole number ≥ 1`)
}

function runChain(type: string, upcasters: Upcasters, data: unknown, from: number, to: number, stored: RecordedEvent) {
  let current = data
  for (let version = from; version < to; version++) {
    const step = upcasters[version]
    if (step === undefined) throw new UpcastError(stored.id, type, version, `no upcaster from version ${version}`)
    try {
      current = step(current, stored)
    } catch (error) {
      throw new UpcastError(stored.id, type, version, `the upcaster from version ${version} threw`, { cause: error })
    }
    if (current === undefined) {
      throw new UpcastError(stored.id, type, version, `the upcaster from version ${version} returned undefined`)
    }
  }
  return current as JsonValue
}

const withVersion = (event: RecordedEvent, version: number) => ({ ...event.metadata, [SCHEMA_VERSION_KEY]: version })

/**
 * What readers see of one stored event: itself when it is current (or unknown, or newer than this
 * code), else the result of its upcaster chain, under its current type name. Stored data is never
 * rewritten.
 */
export function upcastEvent(lookup: DefinitionLookup, stored: RecordedEvent): RecordedEvent[] {
  const definition = lookup.stored(stored.type)
  if (definition === undefined) return [stored]
  const version = storedVersion(stored)
  // Written by a newer version of the code: passed on as it is (that is what FORWARD compatibility is for).
  if (version > definition.version) return [stored]
  if (definition.kind === 'event') {
    if (version === definition.version && definition.type === stored.type) return [stored]
    const data = runChain(stored.type, definition.upcasters, stored.data, version, definition.version, stored)
    return [{ ...stored, type: definition.type, data, metadata: withVersion(stored, definition.version) }]
  }
  return replace(lookup, definition, stored, version)
}

function replace(lookup: DefinitionLookup, retired: RetiredEventDefinition, stored: RecordedEvent, version: number) {
  const data = runChain(stored.type, retired.upcasters, stored.data, version, retired.version, stored)
  let replacements: unknown
  try {
    replacements = retired.replaceWith(data, stored)
  } catch (error) {
    throw new UpcastError(stored.id, stored.type, retired.version, 'replaceWith threw', { cause: error })
  }
  if (!Array.isArray(replacements)) {
    throw new UpcastError(stored.id, stored.type, retired.version, 'replaceWith must return a list of events')
  }
  return replacements.map((replacement: { type?: unknown; data?: unknown; version?: unknown }, index): RecordedEvent => {
    const fail = (why: string) => new UpcastError(stored.id, stored.type, retired.version, `replacement #${index} ${why}`)
    const type = replacement?.type
    const target = typeof type === 'string' && retired.into.includes(type) ? lookup.current(type) : undefined
    if (target === undefined) throw fail(`has type '${String(type)}', which is not a defined type listed in into`)
    const from = replacement.version ?? target.version
    if (!Number.isSafeInteger(from) || (from as number) < 1 || (from as number) > target.version) {
      throw fail(`has version ${String(from)}; ${target.type} has versions 1 to ${target.version}`)
    }
    if (replacement.data === undefined) throw fail('has no data')
    // One replacement is the same event renamed; several are new events and need ids of their own.
    const id = replacements.length === 1 ? stored.id : derivedId(stored.id, index)
    const part: RecordedEvent = { ...stored, id, type: target.type, data: replacement.data as JsonValue }
    const data = runChain(target.type, target.upcasters, part.data, from as number, target.version, part)
    return { ...part, data, metadata: withVersion(stored, target.version) }
  })
}

/**
 * A UUIDv5 named by the stored event's id and the replacement's index: the same stored event gives
 * the same ids on every read, so consumers that deduplicate by id keep working after a split.
 */
export function derivedId(storedId: string, index: number): string {
  const hash = createHash('sha1')
    .update(Buffer.from(storedId.replaceAll('-', ''), 'hex'))
    .update(String(index))
    .digest()
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
