import type { Database, Statement } from 'better-sqlite3'

export interface PartitionRowSql {
  partition: bigint
  position: bigint
  owner: string | null
  lease_until: bigint
}

export interface ParkedRowSql {
  id: string
  stream_id: string
  partition: bigint
  position: bigint
  event_id: string
  status: 'parked' | 'held'
  error: string
  attempts: bigint
  parked_at: bigint
  held?: bigint
}

/** Named here so the statement types can be exported (declaration emit needs a name). */
export interface Stmt<Row = unknown> extends Statement<unknown[], Row> {}

const PARKED = 'id, stream_id, partition, position, event_id, status, error, attempts, parked_at'

/**
 * The processing statements. No locking clauses: every write runs in a BEGIN IMMEDIATE
 * transaction, which already holds SQLite's single write lock for the whole database.
 */
export function processingStatements(db: Database) {
  const prepare = <Row = unknown>(text: string): Stmt<Row> => db.prepare(text).safeIntegers(true) as Stmt<Row>
  return {
    countPartitions: prepare<{ n: bigint }>('SELECT count(*) AS n FROM processor_partitions WHERE processor = ?'),
    insertPartition: prepare('INSERT INTO processor_partitions (processor, partition, position) VALUES (?, ?, ?)'),
    upsertMember: prepare(
      `INSERT INTO processor_members (processor, member, seen_until) VALUES (?, ?, ?)
       ON CONFLICT (processor, member) DO UPDATE SET seen_until = excluded.seen_until`,
    ),
    forgetExpiredMembers: prepare('DELETE FROM processor_members WHERE processor = ? AND seen_until < ?'),
    deleteMember: prepare('DELETE FROM processor_members WHERE processor = ? AND member = ?'),
    renewLeases: prepare('UPDATE processor_partitions SET lease_until = ? WHERE processor = ? AND owner = ?'),
    members: prepare<{ member: string }>('SELECT member FROM processor_members WHERE processor = ? ORDER BY member'),
    claim: prepare(
      `UPDATE processor_partitions SET owner = ?, lease_until = ?
       WHERE processor = ? AND partition IN (SELECT value FROM json_each(?))
         AND (owner IS NULL OR owner = ? OR lease_until < ?)`,
    ),
    releaseUnwanted: prepare(
      `UPDATE processor_partitions SET owner = NULL
       WHERE processor = ? AND owner = ? AND partition NOT IN (SELECT value FROM json_each(?))`,
    ),
    releaseAll: prepare('UPDATE processor_partitions SET owner = NULL WHERE processor = ? AND owner = ?'),
    held: prepare<PartitionRowSql>(
      'SELECT partition, position, owner, lease_until FROM processor_partitions WHERE processor = ? AND owner = ? ORDER BY partition',
    ),
    partitions: prepare<PartitionRowSql>(
      'SELECT partition, position, owner, lease_until FROM processor_partitions WHERE processor = ? ORDER BY partition',
    ),
    saveCheckpoint: prepare('UPDATE processor_partitions SET position = ? WHERE processor = ? AND partition = ? AND owner = ?'),
    busyElsewhere: prepare(
      'SELECT 1 FROM processor_partitions WHERE processor = ? AND owner IS NOT NULL AND owner <> ? AND lease_until >= ? LIMIT 1',
    ),
    resetAll: prepare('UPDATE processor_partitions SET position = ? WHERE processor = ?'),
    listParked: prepare<ParkedRowSql>(
      `SELECT ${PARKED}, (SELECT count(*) FROM processor_parked h
         WHERE h.processor = p.processor AND h.stream_id = p.stream_id AND h.status = 'held') AS held
       FROM processor_parked p WHERE processor = ? AND status = 'parked' ORDER BY position`,
    ),
    parkedStreams: prepare<{ stream_id: string }>(
      `SELECT DISTINCT stream_id FROM processor_parked
       WHERE processor = ? AND status = 'parked' AND partition IN (SELECT value FROM json_each(?))`,
    ),
    streamParked: prepare(`SELECT 1 FROM processor_parked WHERE processor = ? AND stream_id = ? AND status = 'parked' LIMIT 1`),
    insertParked: prepare(`INSERT INTO processor_parked (processor, ${PARKED}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getParked: prepare<ParkedRowSql>(`SELECT ${PARKED} FROM processor_parked WHERE processor = ? AND id = ?`),
    deleteParked: prepare('DELETE FROM processor_parked WHERE processor = ? AND id = ?'),
    recordFailure: prepare('UPDATE processor_parked SET error = ?, attempts = attempts + 1 WHERE processor = ? AND id = ?'),
    nextHeld: prepare<ParkedRowSql>(
      `SELECT ${PARKED} FROM processor_parked
       WHERE processor = ? AND stream_id = ? AND status = 'held' ORDER BY position LIMIT 1`,
    ),
    promote: prepare(`UPDATE processor_parked SET status = 'parked' WHERE processor = ? AND id = ?`),
    getDocument: prepare<{ doc: string }>('SELECT doc FROM documents WHERE namespace = ? AND collection = ? AND id = ?'),
    upsertDocument: prepare(
      `INSERT INTO documents (namespace, collection, id, doc) VALUES (?, ?, ?, ?)
       ON CONFLICT (namespace, collection, id) DO UPDATE SET doc = excluded.doc`,
    ),
    deleteDocument: prepare('DELETE FROM documents WHERE namespace = ? AND collection = ? AND id = ?'),
    allDocuments: prepare<{ id: string; doc: string }>(
      'SELECT id, doc FROM documents WHERE namespace = ? AND collection = ? ORDER BY id LIMIT ?',
    ),
    dropDocuments: prepare('DELETE FROM documents WHERE namespace = ?'),
    dropPartitions: prepare('DELETE FROM processor_partitions WHERE processor = ?'),
    dropMembers: prepare('DELETE FROM processor_members WHERE processor = ?'),
    dropParked: prepare('DELETE FROM processor_parked WHERE processor = ?'),
    /** Filters with `json_each` over the conditions, so the SQL text is the same for any number of fields. */
    findDocuments: prepare<{ doc: string }>(
      `SELECT d.doc FROM documents d
       WHERE d.namespace = ? AND d.collection = ?
         AND NOT EXISTS (
           SELECT 1 FROM json_each(?) c
           WHERE json_type(d.doc, json_extract(c.value, '$.path')) IS NOT json_extract(c.value, '$.type')
              OR (json_extract(c.value, '$.type') IN ('text', 'integer', 'real')
                  AND json_extract(d.doc, json_extract(c.value, '$.path')) IS NOT json_extract(c.value, '$.value')))
       ORDER BY d.id LIMIT ?`,
    ),
  }
}

export type ProcessingStatements = ReturnType<typeof processingStatements>
