import { DuplicateEventIdError, EventTooLargeError, InvalidInputError } from './errors.js'
import type { EventData, ExpectedRevision, ReadAllOptions, ReadStreamOptions, RecordedMetadata, StoreLimits } from './types.js'
import { isUuid, uuidv7 } from './uuid.js'

export const MAX_STREAM_ID_LENGTH = 200
export const MAX_EVENT_TYPE_LENGTH = 200
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024

// C0 and C1 control characters: invisible in logs and tools, and NUL cannot be stored by PostgreSQL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/** An event checked and serialized once, ready for any backend to store. */
export interface PreparedEvent {
  id: string
  type: string
  /** JSON text of `data`. */
  data: string
  /**
   * JSON text of the metadata as given. `correlationId` and `causationId` are stored only when
   * given: they default to the event's own id, which `recordedMetadata` fills in on read. The
   * defaults would otherwise be two ids more per event to send, check, store and read back.
   */
  metadata: string
  /**
   * Whether the caller chose the id. Only such ids can already be stored (a retry); a fresh UUIDv7
   * cannot, so backends may skip looking it up and leave the unique index as the backstop.
   */
  idGiven: boolean
}

function checkName(value: unknown, what: string, code: 'INVALID_STREAM_ID' | 'INVALID_EVENT_TYPE', max: number) {
  if (typeof value !== 'string') throw new InvalidInputError(code, `${what} must be a string, got ${typeof value}`, what)
  if (value.length === 0) throw new InvalidInputError(code, `${what} must not be empty`, what)
  if (value.length > max) throw new InvalidInputError(code, `${what} is ${value.length} characters; the limit is ${max}`, what)
  if (CONTROL.test(value)) throw new InvalidInputError(code, `${what} contains a control character`, what)
  // A lone surrogate would be silently replaced when encoded to UTF-8: the name stored would differ.
  if (!value.isWellFormed()) throw new InvalidInputError(code, `${what} is not well-formed Unicode`, what)
}

export function checkStreamId(streamId: unknown): asserts streamId is string {
  checkName(streamId, 'streamId', 'INVALID_STREAM_ID', MAX_STREAM_ID_LENGTH)
}

export function checkExpectedRevision(expected: unknown): asserts expected is ExpectedRevision {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return
  if (typeof expected === 'bigint' && expected >= 0n) return
  const hint = typeof expected === 'number' ? ` (use a bigint: ${expected}n)` : ''
  throw new InvalidInputError(
    'INVALID_EXPECTED_REVISION',
    `expectedRevision must be 'any', 'no_stream', 'stream_exists' or a bigint ≥ 0, got ${describe(expected)}${hint}`,
    'expectedRevision',
  )
}

const describe = (value: unknown): string =>
  typeof value === 'string' ? `'${value}'` : typeof value === 'bigint' ? `${value}n` : String(value)

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** A plain object whose values are all strings, finite numbers, booleans or null: most metadata, many payloads. */
function isFlat(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !isPlainObject(value)) return false
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key]
    if (typeof item === 'string' || typeof item === 'boolean' || item === null) continue
    if (typeof item === 'number' && Number.isFinite(item)) continue
    return false
  }
  return true
}

/**
 * Serializes to JSON, refusing whatever `JSON.stringify` would silently change or drop: functions,
 * symbols, bigints, non-finite numbers, `undefined` in arrays, and non-plain objects such as Date
 * or Map (they would come back as something else). Cycles are refused too.
 */
export function toJson(
  value: unknown,
  field: string,
  code: 'INVALID_EVENT_DATA' | 'INVALID_METADATA' | 'INVALID_ARGUMENT',
): string {
  // The replacer below costs microseconds per event; a flat object of plain values has nothing for it to refuse.
  if (isFlat(value)) return JSON.stringify(value)
  const fail = (key: string, why: string): never => {
    throw new InvalidInputError(code, `${field}${key === '' ? '' : ` (at key '${key}')`} ${why}`, field)
  }
  function replacer(this: unknown, key: string, replaced: unknown): unknown {
    const original = (this as Record<string, unknown>)[key]
    switch (typeof original) {
      case 'function':
      case 'symbol':
      case 'bigint':
        return fail(key, `holds a ${typeof original}, which is not JSON`)
      case 'undefined':
        if (key === '' || Array.isArray(this)) fail(key, 'is undefined, which is not JSON')
        return replaced
      case 'number':
        if (!Number.isFinite(original)) fail(key, `holds ${original}, which is not JSON`)
        return replaced
      case 'object':
        if (original !== null && !Array.isArray(original) && !isPlainObject(original)) {
          fail(
            key,
            `holds a ${original.constructor?.name ?? 'non-plain object'}; store plain JSON (e.g. an ISO string for a Date)`,
          )
        }
        return replaced
      default:
        return replaced
    }
  }
  let text: string | undefined
  try {
    text = JSON.stringify(value, replacer)
  } catch (error) {
    if (error instanceof InvalidInputError) throw error
    throw new InvalidInputError(code, `${field} is not JSON-serializable: ${(error as Error).message}`, field, { cause: error })
  }
  if (text === undefined) fail('', 'is not JSON-serializable')
  return text as string
}

function prepareMetadata(metadata: unknown, index: number): string {
  const field = `events[${index}].metadata`
  if (metadata === undefined) return '{}'
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata) || !isPlainObject(metadata)) {
    throw new InvalidInputError('INVALID_METADATA', `${field} must be a plain object`, field)
  }
  const given = metadata as Record<string, unknown>
  for (const key of ['correlationId', 'causationId'] as const) {
    if (given[key] !== undefined && (typeof given[key] !== 'string' || given[key] === '')) {
      throw new InvalidInputError('INVALID_METADATA', `${field}.${key} must be a non-empty string`, field)
    }
  }
  return toJson(given, field, 'INVALID_METADATA')
}

/** Stored metadata as read back, with the correlation and causation ids defaulted to the event's id. */
export function recordedMetadata(text: string, id: string): RecordedMetadata {
  const metadata = JSON.parse(text) as Partial<RecordedMetadata>
  metadata.correlationId ??= id
  metadata.causationId ??= id
  return metadata as RecordedMetadata
}

/**
 * Checks everything about an append that does not depend on stored state, and serializes each
 * event once. Throws before anything is written.
 */
export function prepareAppend(
  streamId: unknown,
  events: unknown,
  expectedRevision: unknown,
  limits: StoreLimits | undefined,
): PreparedEvent[] {
  checkStreamId(streamId)
  checkExpectedRevision(expectedRevision)
  if (!Array.isArray(events)) throw new InvalidInputError('INVALID_ARGUMENT', 'events must be an array', 'events')
  if (events.length === 0) throw new InvalidInputError('INVALID_ARGUMENT', 'events must not be empty', 'events')
  const maxBytes = limits?.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES
  const seen = new Set<string>()
  return events.map((event: EventData, index) => {
    if (typeof event !== 'object' || event === null) {
      throw new InvalidInputError('INVALID_ARGUMENT', `events[${index}] must be an object`, `events[${index}]`)
    }
    checkName(event.type, `events[${index}].type`, 'INVALID_EVENT_TYPE', MAX_EVENT_TYPE_LENGTH)
    let id: string
    if (event.id === undefined) id = uuidv7()
    else if (isUuid(event.id)) id = event.id.toLowerCase()
    else throw new InvalidInputError('INVALID_EVENT_ID', `events[${index}].id must be a UUID`, `events[${index}].id`)
    if (seen.has(id)) throw new DuplicateEventIdError(streamId, id)
    seen.add(id)
    const data = toJson(event.data, `events[${index}].data`, 'INVALID_EVENT_DATA')
    const metadata = prepareMetadata(event.metadata, index)
    // A UTF-16 code unit is at most 3 bytes of UTF-8: most events are far enough below the limit
    // that counting their bytes exactly can be skipped.
    if ((data.length + metadata.length) * 3 > maxBytes) {
      const size = Buffer.byteLength(data) + Buffer.byteLength(metadata)
      if (size > maxBytes) throw new EventTooLargeError(index, size, maxBytes)
    }
    return { id, type: event.type, data, metadata, idGiven: event.id !== undefined }
  })
}

function checkCount(maxCount: unknown) {
  if (maxCount === undefined) return
  if (typeof maxCount !== 'number' || !Number.isSafeInteger(maxCount) || maxCount < 0) {
    throw new InvalidInputError('INVALID_ARGUMENT', `maxCount must be a whole number ≥ 0, got ${describe(maxCount)}`, 'maxCount')
  }
}

function checkPoint(value: unknown, field: string) {
  if (value !== undefined && (typeof value !== 'bigint' || value < 0n)) {
    throw new InvalidInputError('INVALID_ARGUMENT', `${field} must be a bigint ≥ 0, got ${describe(value)}`, field)
  }
}

export function checkReadStream(streamId: unknown, options: ReadStreamOptions | undefined) {
  checkStreamId(streamId)
  checkCount(options?.maxCount)
  checkPoint(options?.fromRevision, 'fromRevision')
  const direction = options?.direction
  if (direction !== undefined && direction !== 'forwards' && direction !== 'backwards') {
    throw new InvalidInputError('INVALID_ARGUMENT', `direction must be 'forwards' or 'backwards'`, 'direction')
  }
}

export function checkReadAll(options: ReadAllOptions | undefined) {
  checkCount(options?.maxCount)
  checkPoint(options?.after, 'after')
  const filter = options?.filter
  if (
    filter?.eventTypes !== undefined &&
    !(Array.isArray(filter.eventTypes) && filter.eventTypes.every((t) => typeof t === 'string'))
  ) {
    throw new InvalidInputError('INVALID_ARGUMENT', 'filter.eventTypes must be an array of strings', 'filter.eventTypes')
  }
  if (filter?.streamPrefix !== undefined && typeof filter.streamPrefix !== 'string') {
    throw new InvalidInputError('INVALID_ARGUMENT', 'filter.streamPrefix must be a string', 'filter.streamPrefix')
  }
}
