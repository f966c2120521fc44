import { createHash } from 'node:crypto'
import type { SchemaNames } from '../identifiers.js'
import type { Query } from '../sql.js'

export type { Query }

/**
 * A statement each connection parses and plans once, then only executes: planning the publish or
 * the claim cost about as much as running it. Named by a hash of its text, which holds the schema,
 * so transports of two schemas sharing a connection never collide. Only for statements whose plan
 * for any values is the plan for these (the query-plan tests check the claim's generic plan).
 */
const prepared = (query: Query): Query & { name: string } => ({ name: statementName(query.text), ...query })

// Hashing the text again for every publish and claim cost more than the rest of building it.
const statementNames = new Map<string, string>()

function statementName(text: string): string {
  let name = statementNames.get(text)
  if (name === undefined) {
    name = `eventfold_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`
    // Texts differ by schema and claim limit only: a handful per process, unless schemas churn (tests).
    if (statementNames.size >= 1_000) statementNames.clear()
    statementNames.set(text, name)
  }
  return name
}

/** A message as it is stored: the binary-mode CloudEvent plus what routing and ordering need. */
export interface StoredWire {
  id: string
  type: string
  partitionKey: string | undefined
  /** Binary-mode headers as a JSON object of strings. */
  headers: string
  contentType: string | undefined
  body: Buffer
}

/** A delivery row as the claim returns it (the adapter's type parsers give int8 as bigint, the rest as text). */
export interface DeliveryRow {
  id: bigint
  headers: string
  content_type: string | null
  body: string
  attempt: string
}

export interface DeadLetterRow {
  id: string
  headers: string
  content_type: string | null
  body: string
  error: string
  attempts: string
  origin: string
  dead_ms: bigint
}

const ms = (param: string) => `(${param}::float8 * interval '1 millisecond')`

/**
 * Tells the listeners on the schema's channel which groups got work, once the statement's
 * transaction commits: the payload is the groups' names, comma-separated (names cannot hold a
 * comma), or '' for "every group" when they would not fit a notification's 8000 bytes.
 */
const notifyAfter = (cte: string, channelParam: string) =>
  `SELECT pg_notify(${channelParam}, CASE WHEN octet_length(c.groups) <= ${NOTIFY_PAYLOAD_BYTES} THEN c.groups ELSE '' END)
    FROM (SELECT string_agg(DISTINCT group_name, ',') AS groups FROM ${cte}) c WHERE c.groups IS NOT NULL`

const NOTIFY_PAYLOAD_BYTES = 7_000

/** Idempotent: a group takes the union of every type any of its members asked for ('' = all). */
export const subscribe = ({ quoted: s }: SchemaNames, group: string, types: readonly string[] | undefined): Query => ({
  text: `INSERT INTO ${s}.transport_subscriptions (group_name, type) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
  values: [group, types ?? ['']],
})

/**
 * The whole batch in one statement, routed by the subscriptions it reads itself: a row per message
 * and subscribed group, numbered in batch order, so the batch is all or nothing and keeps its
 * order. A group subscribed both to everything and to the type gets one row. For when the
 * publisher's copy of the routing is stale (see `publishRouted`); it returns the groups that got rows.
 */
export function publish(names: SchemaNames, messages: readonly StoredWire[]): Query {
  const s = names.quoted
  return prepared({
    text: `WITH inserted AS (
        INSERT INTO ${s}.transport_deliveries (group_name, type, partition_key, headers, content_type, body)
        SELECT sub.group_name, m.type, m.partition_key, m.headers, m.content_type, m.body
        FROM unnest($1::text[], $2::text[], $3::json[], $4::text[], $5::bytea[])
          WITH ORDINALITY AS m(type, partition_key, headers, content_type, body, ord)
        JOIN LATERAL (
          SELECT DISTINCT group_name FROM ${s}.transport_subscriptions WHERE type = m.type OR type = ''
        ) sub ON true
        ORDER BY m.ord, sub.group_name
        RETURNING group_name
      )
      SELECT DISTINCT group_name FROM inserted`,
    values: [
      messages.map((m) => m.type),
      messages.map((m) => m.partitionKey ?? null),
      messages.map((m) => m.headers),
      messages.map((m) => m.contentType ?? null),
      messages.map((m) => m.body),
    ],
  })
}

/** A delivery row to write: a message for one group. */
export interface Routed {
  group: string
  wire: StoredWire
}

/** The subscriptions and the routing version they are at, read in one snapshot; at least one row. */
export const routes = ({ quoted: s }: SchemaNames): Query => ({
  text: `SELECT r.version, sub.group_name, sub.type
    FROM ${s}.transport_routing r LEFT JOIN ${s}.transport_subscriptions sub ON true`,
  values: [],
})

export const routingVersion = ({ quoted: s }: SchemaNames): Query => ({
  text: `SELECT version FROM ${s}.transport_routing`,
  values: [],
})

/**
 * The batch's rows, routed by the publisher, in one statement: all or nothing, ids in the given
 * order. It inserts only if the routing is still at `version` in the statement's snapshot, the
 * snapshot the join in `publish` would read the subscriptions in: the version and any change to
 * the subscriptions become visible together (see schema version 9). So it writes exactly what
 * `publish` would, or nothing, which the caller sees in the row count. No lock: concurrent
 * publishers order their rows by their ids, and a consumer never takes two rows of one key at once
 * (see `claim`). No NOTIFY either: a notifying transaction takes a database-wide lock at commit and
 * holds it through the commit's flush, so concurrent publishers would commit one at a time; the
 * publisher announces the groups after the commit (see `announcer.ts`).
 *
 * The rows travel as one JSON document rather than as arrays: node-postgres writes an array
 * as text, escaping every element and turning each body into hex, which cost the client more than
 * the rest of a publish. Bodies go as base64 (exact bytes, whatever the database's encoding). The
 * headers go as the JSON object they are, taken verbatim: PostgreSQL's reading of the document
 * refuses the escapes of a NUL character and of a lone surrogate, which headers may hold, so those
 * (any header with an escape) go as a JSON string instead, read as text and then as JSON. The
 * message's id is in its headers; the row's `message_id` stays NULL (schema version 11).
 */
export function publishRouted(names: SchemaNames, rows: readonly Routed[], version: bigint): Query {
  const s = names.quoted
  return prepared({
    text: `INSERT INTO ${s}.transport_deliveries (group_name, type, partition_key, headers, content_type, body)
      SELECT m.g, m.t, m.k, coalesce(m.h, m.hs::json), m.c, decode(m.b, 'base64')
      FROM ROWS FROM (json_to_recordset($1::json) AS (g text, t text, k text, h json, hs text, c text, b text))
        WITH ORDINALITY AS m(g, t, k, h, hs, c, b, ord)
      WHERE (SELECT r.version FROM ${s}.transport_routing r) = $2::int8
      ORDER BY m.ord`,
    values: [routedRows(rows), version.toString()],
  })
}

function routedRows(rows: readonly Routed[]): string {
  let json = '['
  for (let i = 0; i < rows.length; i++) {
    const { group, wire } = rows[i] as Routed
    if (i > 0) json += ','
    // JSON.stringify writes \u only for control characters and lone surrogates (a backslash before
    // a u also matches: a false alarm that only takes the longer way).
    const headers = wire.headers.includes('\\u') ? `"hs":${text(wire.headers)}` : `"h":${wire.headers}`
    json += `{"g":${text(group)},"t":${text(wire.type)},"k":${optionalText(wire.partitionKey)},${headers},"c":${optionalText(wire.contentType)},"b":"${wire.body.toString('base64')}"}`
  }
  return `${json}]`
}

/**
 * A string as JSON. A lone surrogate would be written as its escape, which PostgreSQL refuses as
 * text; node-postgres used to send it as U+FFFD, and so does this.
 */
const text = (value: string): string => JSON.stringify(value.isWellFormed() ? value : value.toWellFormed())

const optionalText = (value: string | undefined): string => (value === undefined ? 'null' : text(value))

/** Tells the listeners on the schema's channel that these groups got work (see `notifyAfter` for the payload). */
export const notify = (names: SchemaNames, groups: Iterable<string>): Query => ({
  text: `SELECT pg_notify($1, CASE WHEN octet_length($2::text) <= ${NOTIFY_PAYLOAD_BYTES} THEN $2::text ELSE '' END)`,
  values: [names.messagesChannel, [...groups].sort().join(',')],
})

/**
 * Takes up to `limit` rows of a group for `owner`: ready ones whose retry delay is over, and active
 * ones whose owner's claim lapsed (it died). FOR UPDATE SKIP LOCKED lets competing members claim at
 * once without waiting on each other; a row another member just claimed is re-checked on its new
 * version and skipped. Per-key order: a keyed row waits while an earlier row of its key exists in
 * any state (a retry, one in hand), or a later one is held (published by a concurrent transaction
 * that committed first), so one key is never in two hands. Two probes, not one: the earlier row is
 * the first entry below the candidate on the key index, the held one an entry of the small held
 * index; one condition over both would read every row of the key. \`= ANY (ARRAY(…))\` rather than \`IN (…)\`:
 * the planner would hash-join the IN against a scan of the whole table; the array is computed
 * once, then each row is fetched by its primary key.
 */
export const claim = ({ quoted: s }: SchemaNames, group: string, owner: string, limit: number, lockMs: number): Query =>
  prepared({
    text: `UPDATE ${s}.transport_deliveries d
    SET state = 'active', attempt = d.attempt + 1, owner = $2, locked_until = now() + ${ms('$4')}
    WHERE d.group_name = $1 AND d.id = ANY (ARRAY(
      SELECT c.id FROM ${s}.transport_deliveries c
      WHERE c.group_name = $1
        AND ((c.state = 'ready' AND c.visible_at <= now()) OR (c.state = 'active' AND c.locked_until < now()))
        AND (c.partition_key IS NULL OR (NOT EXISTS (
          SELECT 1 FROM ${s}.transport_deliveries e
          WHERE e.group_name = c.group_name AND e.partition_key = c.partition_key AND e.id < c.id
        ) AND NOT EXISTS (
          SELECT 1 FROM ${s}.transport_deliveries h
          WHERE h.group_name = c.group_name AND h.partition_key = c.partition_key AND h.state = 'active'
            AND h.id <> c.id AND h.locked_until >= now()
        )))
      ORDER BY c.id
      LIMIT $3
      FOR UPDATE SKIP LOCKED
    ))
    RETURNING d.id, d.headers::text AS headers, d.content_type, encode(d.body, 'hex') AS body, d.attempt`,
    values: [group, owner, limit, lockMs],
  })

/** Every settling statement names the claim it settles: a row that lapsed and was claimed again is not ours any more. */
const MINE = `group_name = $1 AND id = $2 AND owner = $3 AND attempt = $4 AND state = 'active'`

export interface Claim {
  group: string
  id: bigint
  owner: string
  attempt: number
}

/** What an acknowledgement names of a claim; the group and owner are the member's. */
export type AckedClaim = Pick<Claim, 'id' | 'attempt'>

const claimValues = (c: Claim) => [c.group, c.id.toString(), c.owner, c.attempt]

/**
 * Done: the rows go, any number of one member's claims in one statement (see acks.ts). Each row
 * is found by its primary key and deleted only if it is still the same claim.
 */
export const ack = ({ quoted: s }: SchemaNames, group: string, owner: string, claims: readonly AckedClaim[]): Query =>
  prepared({
    text: `DELETE FROM ${s}.transport_deliveries d USING unnest($3::int8[], $4::int4[]) AS a(id, attempt)
      WHERE d.group_name = $1 AND d.id = a.id AND d.owner = $2 AND d.attempt = a.attempt AND d.state = 'active'`,
    values: [group, owner, claims.map((c) => c.id.toString()), claims.map((c) => c.attempt)],
  })

/** Back to ready after `delayMs`, on the database's clock like every other time here. */
export const retry = ({ quoted: s }: SchemaNames, c: Claim, delayMs: number): Query => ({
  text: `UPDATE ${s}.transport_deliveries SET state = 'ready', owner = NULL, locked_until = NULL, visible_at = now() + ${ms('$5')}
    WHERE ${MINE}`,
  values: [...claimValues(c), delayMs],
})

/**
 * Hands a row back at once, for another member. `uncount` takes back the claim's attempt when
 * the handler never saw the message (a claim that landed while its consumer stopped).
 */
export const release = (names: SchemaNames, c: Claim, uncount: boolean): Query => ({
  text: `WITH released AS (
      UPDATE ${names.quoted}.transport_deliveries
      SET state = 'ready', owner = NULL, locked_until = NULL, attempt = attempt - $5::int
      WHERE ${MINE} RETURNING group_name
    )
    ${notifyAfter('released', '$6')}`,
  values: [...claimValues(c), uncount ? 1 : 0, names.messagesChannel],
})

/** Moves the row to the dead letters in one statement, hence one transaction: never both, never neither. */
export function bury(
  { quoted: s }: SchemaNames,
  c: Claim,
  letter: { id: string; error: string; attempts: number; origin: string },
): Query {
  return {
    text: `WITH dead AS (DELETE FROM ${s}.transport_deliveries WHERE ${MINE} RETURNING *)
      INSERT INTO ${s}.transport_dead_letters
        (id, group_name, type, partition_key, headers, content_type, body, error, attempts, origin)
      SELECT $5, group_name, type, partition_key, headers, content_type, body, $6::json, $7, $8 FROM dead`,
    values: [...claimValues(c), letter.id, letter.error, letter.attempts, letter.origin],
  }
}

/** Keeps this member's claims from lapsing while their handlers run. */
export const extend = (
  { quoted: s }: SchemaNames,
  group: string,
  owner: string,
  ids: readonly bigint[],
  lockMs: number,
): Query => ({
  text: `UPDATE ${s}.transport_deliveries SET locked_until = now() + ${ms('$3')}
    WHERE group_name = $4 AND id = ANY ($2::int8[]) AND owner = $1 AND state = 'active'`,
  values: [owner, ids.map(String), lockMs, group],
})

export const listDeadLetters = ({ quoted: s }: SchemaNames, group: string, limit: number | null): Query => ({
  text: `SELECT id, headers::text AS headers, content_type, encode(body, 'hex') AS body, error::text AS error, attempts, origin,
      (extract(epoch FROM dead_at) * 1000)::int8 AS dead_ms
    FROM ${s}.transport_dead_letters WHERE group_name = $1 ORDER BY seq LIMIT $2`,
  values: [group, limit],
})

/** Locks the letters a replay or discard is about to take: a concurrent one waits, then finds them gone. */
export const lockDeadLetters = ({ quoted: s }: SchemaNames, group: string, ids: readonly string[]): Query => ({
  text: `SELECT id FROM ${s}.transport_dead_letters WHERE group_name = $1 AND id = ANY ($2::text[]) FOR UPDATE`,
  values: [group, ids],
})

/** Back to the end of the group's queue with a fresh attempt count, in the order they died. */
export const replayDeadLetters = (names: SchemaNames, group: string, ids: readonly string[]): Query => ({
  text: `WITH taken AS (
      DELETE FROM ${names.quoted}.transport_dead_letters WHERE group_name = $1 AND id = ANY ($2::text[])
      RETURNING seq, id, group_name, type, partition_key, headers, content_type, body
    ), replayed AS (
      INSERT INTO ${names.quoted}.transport_deliveries (group_name, message_id, type, partition_key, headers, content_type, body)
      SELECT group_name, id, type, partition_key, headers, content_type, body FROM taken ORDER BY seq
      RETURNING group_name
    )
    ${notifyAfter('replayed', '$3')}`,
  values: [group, ids, names.messagesChannel],
})

export const discardDeadLetters = ({ quoted: s }: SchemaNames, group: string, ids: readonly string[]): Query => ({
  text: `DELETE FROM ${s}.transport_dead_letters WHERE group_name = $1 AND id = ANY ($2::text[])`,
  values: [group, ids],
})
