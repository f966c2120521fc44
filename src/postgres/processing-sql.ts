import type { FieldCondition } from '../core/internal.js'
import type { SchemaNames } from './identifiers.js'
import type { Query } from './sql.js'

// Leases run on the database's clock, so instances on machines with skewed clocks still agree.
const NOW_MS = '(extract(epoch FROM clock_timestamp()) * 1000)::int8'

const PARKED = `id::text AS id, stream_id, partition, position, event_id::text AS event_id, status, error, attempts,
  (extract(epoch FROM parked_at) * 1000)::int8 AS parked_ms`

export interface ParkedRowPg {
  id: string
  stream_id: string
  partition: number
  position: bigint
  event_id: string
  status: 'parked' | 'held'
  error: string
  attempts: number
  parked_ms: bigint
  held?: bigint
}

export const countPartitions = ({ quoted: s }: SchemaNames, processor: string): Query => ({
  text: `SELECT count(*)::int8 AS n FROM ${s}.processor_partitions WHERE processor = $1`,
  values: [processor],
})

export const insertPartitions = ({ quoted: s }: SchemaNames, processor: string, count: number, start: bigint): Query => ({
  text: `INSERT INTO ${s}.processor_partitions (processor, partition, position)
    SELECT $1, p, $3 FROM generate_series(0, $2 - 1) p ON CONFLICT DO NOTHING`,
  values: [processor, count, start.toString()],
})

/**
 * One round trip. A data-modifying CTE's rows are invisible to the outer SELECT, so the member
 * itself is added to the list by the UNION rather than read back.
 */
export const heartbeat = ({ quoted: s }: SchemaNames, processor: string, member: string, leaseMs: number): Query => ({
  text: `WITH me AS (
      INSERT INTO ${s}.processor_members (processor, member, seen_until) VALUES ($1, $2, ${NOW_MS} + $3)
      ON CONFLICT (processor, member) DO UPDATE SET seen_until = excluded.seen_until
    ), gone AS (
      DELETE FROM ${s}.processor_members WHERE processor = $1 AND seen_until < ${NOW_MS}
    ), renewed AS (
      UPDATE ${s}.processor_partitions SET lease_until = ${NOW_MS} + $3 WHERE processor = $1 AND owner = $2
    )
    SELECT member FROM ${s}.processor_members WHERE processor = $1 AND member <> $2 AND seen_until >= ${NOW_MS}
    UNION SELECT $2 ORDER BY 1`,
  values: [processor, member, leaseMs],
})

/**
 * Gives up unwanted partitions and takes wanted ones that are free, expired or already ours. A
 * partition whose holder is mid-batch is row-locked by its checkpoint UPDATE: the claim waits for
 * that commit, then re-checks the lease on the committed row.
 */
export const rebalance = (
  { quoted: s }: SchemaNames,
  processor: string,
  member: string,
  wanted: readonly number[],
  leaseMs: number,
): Query => ({
  text: `WITH released AS (
      UPDATE ${s}.processor_partitions SET owner = NULL
      WHERE processor = $1 AND owner = $2 AND NOT (partition = ANY ($3::int[]))
    ), claimed AS (
      UPDATE ${s}.processor_partitions SET owner = $2, lease_until = ${NOW_MS} + $4
      WHERE processor = $1 AND partition = ANY ($3::int[])
        AND (owner IS NULL OR owner = $2 OR lease_until < ${NOW_MS})
      RETURNING partition, position
    )
    SELECT partition, position FROM claimed ORDER BY partition`,
  values: [processor, member, wanted, leaseMs],
})

export const leave = ({ quoted: s }: SchemaNames, processor: string, member: string): Query => ({
  text: `WITH released AS (
      UPDATE ${s}.processor_partitions SET owner = NULL WHERE processor = $1 AND owner = $2
    ) DELETE FROM ${s}.processor_members WHERE processor = $1 AND member = $2`,
  values: [processor, member],
})

export const partitions = ({ quoted: s }: SchemaNames, processor: string): Query => ({
  text: `SELECT partition, position, owner, lease_until FROM ${s}.processor_partitions WHERE processor = $1 ORDER BY partition`,
  values: [processor],
})

/** Resets only when no other member holds a live lease; reports whether it did. */
export const resetCheckpoints = ({ quoted: s }: SchemaNames, processor: string, position: bigint, member: string): Query => ({
  text: `UPDATE ${s}.processor_partitions SET position = $2
    WHERE processor = $1 AND NOT EXISTS (
      SELECT 1 FROM ${s}.processor_partitions
      WHERE processor = $1 AND owner IS NOT NULL AND owner <> $3 AND lease_until >= ${NOW_MS})
    RETURNING partition`,
  values: [processor, position.toString(), member],
})

/** Only the lease holder may save: a row not returned was taken over, and the caller rolls back. */
export const saveCheckpoints = (
  { quoted: s }: SchemaNames,
  processor: string,
  member: string,
  checkpoints: ReadonlyMap<number, bigint>,
): Query => ({
  text: `UPDATE ${s}.processor_partitions p SET position = c.position
    FROM unnest($3::int[], $4::int8[]) AS c (partition, position)
    WHERE p.processor = $1 AND p.owner = $2 AND p.partition = c.partition
    RETURNING p.partition`,
  values: [processor, member, [...checkpoints.keys()], [...checkpoints.values()].map(String)],
})

export const lockStream = (key: string): Query => ({ text: 'SELECT pg_advisory_xact_lock($1::int8)', values: [key] })

/** A separate statement from the lock: in READ COMMITTED it gets a snapshot taken after the lock. */
export const streamParked = ({ quoted: s }: SchemaNames, processor: string, streamId: string): Query => ({
  text: `SELECT 1 AS parked FROM ${s}.processor_parked WHERE processor = $1 AND stream_id = $2 AND status = 'parked' LIMIT 1`,
  values: [processor, streamId],
})

export const listParked = ({ quoted: s }: SchemaNames, processor: string): Query => ({
  text: `SELECT ${PARKED}, (SELECT count(*) FROM ${s}.processor_parked h
      WHERE h.processor = p.processor AND h.stream_id = p.stream_id AND h.status = 'held')::int8 AS held
    FROM ${s}.processor_parked p WHERE processor = $1 AND status = 'parked' ORDER BY position`,
  values: [processor],
})

export const parkedStreams = ({ quoted: s }: SchemaNames, processor: string, partitions: readonly number[]): Query => ({
  text: `SELECT DISTINCT stream_id FROM ${s}.processor_parked
    WHERE processor = $1 AND status = 'parked' AND partition = ANY ($2::int[])`,
  values: [processor, partitions],
})

export const insertParked = (
  { quoted: s }: SchemaNames,
  processor: string,
  r: {
    id: string
    streamId: string
    partition: number
    position: bigint
    eventId: string
    status: string
    error: string
    attempts: number
    parkedAt: Date
  },
): Query => ({
  text: `INSERT INTO ${s}.processor_parked
      (processor, id, stream_id, partition, position, event_id, status, error, attempts, parked_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  values: [processor, r.id, r.streamId, r.partition, r.position.toString(), r.eventId, r.status, r.error, r.attempts, r.parkedAt],
})

export const getParked = ({ quoted: s }: SchemaNames, processor: string, id: string): Query => ({
  text: `SELECT ${PARKED} FROM ${s}.processor_parked WHERE processor = $1 AND id::text = $2`,
  values: [processor, id],
})

export const deleteParked = ({ quoted: s }: SchemaNames, processor: string, id: string): Query => ({
  text: `DELETE FROM ${s}.processor_parked WHERE processor = $1 AND id::text = $2`,
  values: [processor, id],
})

export const recordFailure = ({ quoted: s }: SchemaNames, processor: string, id: string, error: string): Query => ({
  text: `UPDATE ${s}.processor_parked SET error = $3, attempts = attempts + 1 WHERE processor = $1 AND id::text = $2`,
  values: [processor, id, error],
})

export const promoteNextHeld = ({ quoted: s }: SchemaNames, processor: string, streamId: string): Query => ({
  text: `UPDATE ${s}.processor_parked SET status = 'parked'
    WHERE processor = $1 AND id = (
      SELECT id FROM ${s}.processor_parked
      WHERE processor = $1 AND stream_id = $2 AND status = 'held' ORDER BY position LIMIT 1)
    RETURNING ${PARKED}`,
  values: [processor, streamId],
})

export const getDocument = ({ quoted: s }: SchemaNames, namespace: string, collection: string, id: string): Query => ({
  text: `SELECT doc::text AS doc FROM ${s}.documents WHERE namespace = $1 AND collection = $2 AND id = $3`,
  values: [namespace, collection, id],
})

export const upsertDocument = (
  { quoted: s }: SchemaNames,
  namespace: string,
  collection: string,
  id: string,
  doc: string,
): Query => ({
  text: `INSERT INTO ${s}.documents (namespace, collection, id, doc) VALUES ($1, $2, $3, $4::jsonb)
    ON CONFLICT (namespace, collection, id) DO UPDATE SET doc = excluded.doc`,
  values: [namespace, collection, id, doc],
})

export const deleteDocument = ({ quoted: s }: SchemaNames, namespace: string, collection: string, id: string): Query => ({
  text: `DELETE FROM ${s}.documents WHERE namespace = $1 AND collection = $2 AND id = $3`,
  values: [namespace, collection, id],
})

/** Top-level equality as jsonb containment: `{"status": "open"}` matches documents with that field. */
export const findDocuments = (
  { quoted: s }: SchemaNames,
  namespace: string,
  collection: string,
  where: FieldCondition[],
  limit: number,
): Query => ({
  text: `SELECT id, doc::text AS doc FROM ${s}.documents
    WHERE namespace = $1 AND collection = $2 AND doc @> $3::jsonb ORDER BY id LIMIT $4`,
  values: [namespace, collection, JSON.stringify(Object.fromEntries(where.map((c) => [c.field, c.value]))), limit],
})

export const dropDocuments = ({ quoted: s }: SchemaNames, namespace: string): Query => ({
  text: `DELETE FROM ${s}.documents WHERE namespace = $1`,
  values: [namespace],
})

export const dropProcessor = ({ quoted: s }: SchemaNames, processor: string): Query => ({
  text: `WITH parts AS (DELETE FROM ${s}.processor_partitions WHERE processor = $1),
    members AS (DELETE FROM ${s}.processor_members WHERE processor = $1)
    DELETE FROM ${s}.processor_parked WHERE processor = $1`,
  values: [processor],
})
