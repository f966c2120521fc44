import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { schemaNames } from '../../src/postgres/identifiers.js'
import { createPostgresTransport, type PostgresTransport } from '../../src/postgres/index.js'
import * as sql from '../../src/postgres/transport/sql.js'
import { admin, DATABASE_URL, dropSchema, uniqueSchema } from './helpers.js'

const schema = uniqueSchema('transport_plans')
const names = schemaNames(schema)
const GROUPS = 20
const PER_GROUP = 1000
let transport: PostgresTransport

beforeAll(async () => {
  transport = await createPostgresTransport({ connectionString: DATABASE_URL, schema })
  const s = names.quoted
  // A backlog over many groups: a third keyed over 50 keys, a few rows in hand, some waiting out a retry.
  await admin(`INSERT INTO ${s}.transport_deliveries (group_name, message_id, type, partition_key, headers, body, state,
      owner, locked_until, visible_at)
    SELECT 'group-' || (i % ${GROUPS}), gen_random_uuid()::text, 'T', CASE WHEN i % 3 = 0 THEN 'key-' || (i % 50) END,
      '{}', '\\x7b7d'::bytea, CASE WHEN i % 97 = 0 THEN 'active' ELSE 'ready' END,
      CASE WHEN i % 97 = 0 THEN 'someone' END, CASE WHEN i % 97 = 0 THEN now() + interval '1 minute' END,
      now() + CASE WHEN i % 89 = 0 THEN interval '1 minute' ELSE interval '0' END
    FROM generate_series(1, ${GROUPS * PER_GROUP}) i`)
  // Dead letters pile up in one group whose handler is broken; the others have a few each.
  await admin(`INSERT INTO ${s}.transport_dead_letters (id, group_name, type, headers, body, error, attempts, origin)
    SELECT gen_random_uuid()::text, CASE WHEN i % 10 = 0 THEN 'group-' || (i / 10 % ${GROUPS}) ELSE 'group-broken' END,
      'T', '{}', '\\x7b7d'::bytea, '{}', 1, 'o'
    FROM generate_series(1, ${GROUPS * 200}) i`)
  // Real statistics, so the planner chooses as it would in production (no enable_seqscan tricks).
  await admin(`ANALYZE ${s}.transport_deliveries; ANALYZE ${s}.transport_dead_letters`)
}, 60_000)

afterAll(async () => {
  await transport.close()
  await dropSchema(schema)
})

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  Plans?: PlanNode[]
}

const flatten = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(flatten)]

async function explain(query: sql.Query): Promise<PlanNode[]> {
  const [row] = await admin<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${query.text}`, query.values)
  return flatten(row!['QUERY PLAN'][0].Plan)
}

/** The plan a prepared statement falls back to once PostgreSQL prefers one plan for every value. */
async function explainGeneric(query: sql.Query): Promise<PlanNode[]> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    await client.query('SET plan_cache_mode = force_generic_plan')
    await client.query(`PREPARE generic AS ${query.text}`)
    const literal = (value: unknown) => (Array.isArray(value) ? `{${value.join(',')}}` : String(value))
    const args = query.values.map((value) => client.escapeLiteral(literal(value))).join(', ')
    const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) EXECUTE generic(${args})`)
    return flatten(rows[0]!['QUERY PLAN'][0].Plan)
  } finally {
    await client.end()
  }
}

const seqScans = (nodes: PlanNode[]) => nodes.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name'])
const indexes = (nodes: PlanNode[]) => nodes.flatMap((n) => n['Index Name'] ?? [])

describe('postgres transport query plans', () => {
  it.each([1, 10, 100])(
    'the claim of %i rows walks the primary key (group, id), checks keys on the key and held indexes',
    async (limit) => {
      const nodes = await explain(sql.claim(names, 'group-7', 'me', limit, 30_000))
      expect(seqScans(nodes)).toEqual([])
      expect(indexes(nodes)).toContain('transport_deliveries_pkey')
      expect(indexes(nodes)).toContain('transport_deliveries_key')
      expect(indexes(nodes)).toContain('transport_deliveries_held')
    },
  )

  it.each([1, 100])('the prepared claim of %i rows keeps to the same indexes in its generic plan', async (limit) => {
    const nodes = await explainGeneric(sql.claim(names, 'group-7', 'me', limit, 30_000))
    expect(seqScans(nodes)).toEqual([])
    expect(indexes(nodes)).toContain('transport_deliveries_pkey')
    expect(indexes(nodes)).toContain('transport_deliveries_key')
    expect(indexes(nodes)).toContain('transport_deliveries_held')
  })

  it('the prepared acknowledgement of a batch finds each row by primary key in its generic plan', async () => {
    const claims = Array.from({ length: 16 }, (_, i) => ({ id: BigInt(12_345 + i), attempt: 1 }))
    const nodes = await explainGeneric(sql.ack(names, 'group-7', 'me', claims))
    expect(seqScans(nodes)).toEqual([])
    expect(indexes(nodes)).toContain('transport_deliveries_pkey')
  })

  it('the claim then updates the rows it chose by primary key', async () => {
    const nodes = await explain(sql.claim(names, 'group-7', 'me', 100, 30_000))
    const update = nodes.find((n) => n['Node Type'] === 'Index Scan' && n['Index Name'] === 'transport_deliveries_pkey')
    expect(update?.['Relation Name']).toBe('transport_deliveries')
  })

  it('settling or extending a claim is a primary-key lookup', async () => {
    const claim = { group: 'group-7', id: 12345n, owner: 'me', attempt: 1 }
    for (const query of [
      sql.ack(names, claim.group, claim.owner, [claim, { id: 12346n, attempt: 2 }]),
      sql.retry(names, claim, 100),
      sql.release(names, claim, false),
      sql.extend(names, claim.group, claim.owner, [claim.id, 12346n], 30_000),
    ]) {
      const nodes = await explain(query)
      expect(seqScans(nodes)).toEqual([])
      expect(indexes(nodes)).toContain('transport_deliveries_pkey')
    }
  })

  it('listing the dead letters of a group among many reads that group’s entries of an index, not the table', async () => {
    const nodes = await explain(sql.listDeadLetters(names, 'group-10', 50))
    expect(seqScans(nodes)).toEqual([])
    // Both indexes lead with the group; the planner picks by the group's size.
    expect(indexes(nodes).length).toBeGreaterThan(0)
    for (const index of indexes(nodes))
      expect(['transport_dead_letters_by_group', 'transport_dead_letters_by_id']).toContain(index)
  })

  it('a replay or discard finds its letters by group and id', async () => {
    const nodes = await explain(sql.lockDeadLetters(names, 'group-broken', ['a', 'b']))
    expect(seqScans(nodes)).toEqual([])
    expect(indexes(nodes)).toEqual(['transport_dead_letters_by_id'])
  })
})

describe('postgres transport prepared statements', () => {
  const wire = { id: 'm', type: 'T', partitionKey: undefined, headers: '{}', contentType: undefined, body: Buffer.from('{}') }
  const claim = { group: 'group-7', id: 1n, owner: 'me', attempt: 1 }
  const nameOf = (query: sql.Query) => (query as sql.Query & { name?: string }).name

  it('names the publish and the ack by their text: one per schema, whatever the values', () => {
    const other = schemaNames(`${schema}_other`)
    expect(nameOf(sql.publish(names, [wire]))).toBe(nameOf(sql.publish(names, [wire, { ...wire, id: 'n' }])))
    expect(nameOf(sql.publish(names, [wire]))).not.toBe(nameOf(sql.publish(other, [wire])))
    const ack = (claims: (typeof claim)[]) => sql.ack(names, claim.group, claim.owner, claims)
    expect(nameOf(ack([claim]))).toBe(nameOf(ack([claim, { ...claim, id: 2n }])))
    expect(nameOf(ack([claim]))).not.toBe(nameOf(sql.publish(names, [wire])))
  })

  it('names the claim too: one name per schema', () => {
    expect(nameOf(sql.claim(names, 'group-7', 'me', 10, 30_000))).toBe(nameOf(sql.claim(names, 'group-8', 'you', 1, 5)))
  })
})
