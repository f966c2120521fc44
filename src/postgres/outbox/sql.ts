import type { SchemaNames } from '../identifiers.js'
import type { Query } from '../sql.js'

export const enqueue = (
  { quoted: s }: SchemaNames,
  rows: { id: string; key: string | null; event: string }[],
  channel: string,
): Query => ({
  // The NOTIFY is transactional: the relay wakes when the caller's transaction commits, not before.
  text: `WITH added AS (
      INSERT INTO ${s}.outbox (message_id, partition_key, message)
      SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])
    ) SELECT pg_notify($4, '')`,
  values: [rows.map((r) => r.id), rows.map((r) => r.key), rows.map((r) => r.event), channel],
})

/**
 * Opens a claim's transaction. The claim's advisory locks sit in its filter, so they must be taken
 * only on the rows its limit reaches, walking the unsent index in order. Without sorts the planner
 * has no other way; with them it picks a bitmap scan and a sort whenever its statistics undercount
 * the unsent rows (as after any burst): that takes the lock of every key in the backlog, which is
 * ten times slower and keeps every other relay away from all of them.
 */
export const BEGIN_CLAIM = 'BEGIN; SET LOCAL enable_sort = off'

/**
 * The oldest unsent messages, in order, of partition keys no other relay holds (in a transaction
 * begun with `BEGIN_CLAIM`). The transaction-
 * scoped advisory lock per key (two int4 keys: the schema's space and the key's hash) keeps a key's
 * messages with one relay until it commits, so two relays never publish one key out of order;
 * SKIP LOCKED passes rows another relay has claimed, and re-checks sent_at on ones it just marked.
 */
export const claim = ({ quoted: s }: SchemaNames, space: number, limit: number): Query => ({
  text: `SELECT seq, message::text AS message FROM ${s}.outbox
    WHERE sent_at IS NULL AND pg_try_advisory_xact_lock($1::int4, hashtext(coalesce(partition_key, seq::text)))
    ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED`,
  values: [space, limit],
})

export const markSent = ({ quoted: s }: SchemaNames, seqs: readonly bigint[]): Query => ({
  text: `UPDATE ${s}.outbox SET sent_at = now() WHERE seq = ANY ($1::int8[])`,
  values: [seqs.map(String)],
})

/** Bounded, so a large backlog of old rows never makes one long-running delete. */
export const cleanupOutbox = ({ quoted: s }: SchemaNames, retentionMs: number): Query => ({
  text: `DELETE FROM ${s}.outbox WHERE seq IN (
    SELECT seq FROM ${s}.outbox WHERE sent_at IS NOT NULL AND sent_at < now() - $1 * interval '1 millisecond' LIMIT 10000)`,
  values: [retentionMs],
})

/** Records a message as handled by a consumer; no row comes back when it already was. */
export const recordInbox = ({ quoted: s }: SchemaNames, consumer: string, messageId: string): Query => ({
  text: `INSERT INTO ${s}.inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1 AS fresh`,
  values: [consumer, messageId],
})

export const cleanupInbox = ({ quoted: s }: SchemaNames, retentionMs: number): Query => ({
  text: `DELETE FROM ${s}.inbox WHERE received_at < now() - $1 * interval '1 millisecond'`,
  values: [retentionMs],
})
