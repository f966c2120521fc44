import { createHash } from 'node:crypto'
import { InvalidInputError } from '../core/internal.js'

/** Everything derived from the schema name that ends up in SQL or on the wire. */
export interface SchemaNames {
  name: string
  /** The schema as a quoted identifier: the only identifier ever spliced into SQL text. */
  quoted: string
  /** Advisory lock taken by every append and delete in this schema (int8 as a decimal string). */
  writeLockKey: string
  /** Advisory lock taken while migrating this schema. */
  migrateLockKey: string
  /** NOTIFY channel for appends to this schema. */
  channel: string
  /** NOTIFY channel of the message transport in this schema: a delivery became ready. */
  messagesChannel: string
}

// Plain identifiers only: no quoting surprises, and no `$` that could end a dollar-quoted function body.
const SAFE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
// PostgreSQL silently truncates identifiers longer than NAMEDATALEN - 1 bytes; two long names could collide.
const MAX_NAME_BYTES = 63

/** Double-quotes an identifier, doubling any quote inside it. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`

/** Checks a schema name and derives the names and keys the adapter uses with it. */
export function schemaNames(name: unknown): SchemaNames {
  const fail = (why: string): never => {
    throw new InvalidInputError('INVALID_ARGUMENT', `schema ${why}`, 'schema')
  }
  if (typeof name !== 'string') return fail(`must be a string, got ${typeof name}`)
  if (!SAFE_NAME.test(name)) return fail(`'${name}' must be letters, digits and underscores, not starting with a digit`)
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return fail(`'${name}' is longer than ${MAX_NAME_BYTES} bytes`)
  // PostgreSQL reserves the pg_ prefix for system schemas and refuses to create one.
  if (name.toLowerCase().startsWith('pg_')) return fail(`'${name}' must not start with pg_`)
  return {
    name,
    quoted: quoteIdent(name),
    writeLockKey: lockKey(`eventfold:write:${name}`),
    migrateLockKey: lockKey(`eventfold:migrate:${name}`),
    // Hashed so the channel stays short whatever the schema name (channel names have the identifier limit).
    channel: `eventfold_${hash(name).subarray(0, 8).toString('hex')}`,
    messagesChannel: `eventfold_messages_${hash(name).subarray(0, 8).toString('hex')}`,
  }
}

const hash = (text: string): Buffer => createHash('sha256').update(text).digest()

/** A stable int8 per purpose and schema, so writers in different schemas never block each other. */
const lockKey = (text: string): string => hash(text).readBigInt64BE(0).toString()
