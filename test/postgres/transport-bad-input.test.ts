import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isEventfoldError, type ReceivedMessage } from '../../src/index.js'
import { createPostgresTransport, type PostgresTransport } from '../../src/postgres/index.js'
import { migrations } from '../../src/postgres/migrations.js'
import { waitFor } from '../messaging/conformance/helpers.js'
import { admin, DATABASE_URL, dropSchema, storeIn, uniqueSchema } from './helpers.js'

const schema = uniqueSchema('transport_input')
const LIMIT = 64 * 1024
let transport: PostgresTransport
const schemas = [schema]

beforeAll(async () => {
  transport = await createPostgresTransport({
    connectionString: DATABASE_URL,
    schema,
    maxMessageBytes: LIMIT,
    pollIntervalMs: 100,
  })
})

afterAll(async () => {
  await transport.close()
  for (const s of schemas) await dropSchema(s)
})

async function failure(work: () => Promise<unknown>): Promise<{ code?: string; field?: string } & Record<string, unknown>> {
  try {
    await work()
  } catch (error) {
    return error as { code?: string; field?: string }
  }
  throw new Error('expected an error')
}

const tableCount = async () =>
  (await admin<{ n: string }>(`SELECT count(*)::text AS n FROM pg_tables WHERE schemaname = $1`, [schema]))[0]?.n

const HOSTILE_GROUPS = [
  `x'; DROP TABLE transport_deliveries; --`,
  'a"b',
  'with space',
  'ünïcødé',
  '',
  'g'.repeat(101),
  'tab\there',
  'semi;colon',
]

describe('postgres transport: bad input', () => {
  it.each(HOSTILE_GROUPS)(
    'refuses the group name %j with INVALID_ARGUMENT, in subscribe and in the dead-letter API',
    async (group) => {
      const before = await tableCount()
      for (const work of [
        () => transport.subscribe({ group, handler: () => {} }),
        () => transport.deadLetters.list(group),
        () => transport.deadLetters.replay(group, ['x']),
        () => transport.deadLetters.discard(group, ['x']),
      ]) {
        const error = await failure(work)
        expect(isEventfoldError(error, 'INVALID_ARGUMENT'), String(error)).toBe(true)
        expect(error.field).toBe('group')
      }
      expect(await tableCount()).toBe(before)
    },
  )

  it('refuses a message over maxMessageBytes with MESSAGE_TOO_LARGE, publishing nothing of its batch', async () => {
    const got: ReceivedMessage[] = []
    await transport.subscribe({ group: 'sizes', handler: (m) => void got.push(m) })
    const huge = 'x'.repeat(LIMIT)
    const error = await failure(() =>
      transport.publish([
        { type: 'Small', data: 1, partitionKey: 'k' },
        { type: 'Big', data: { huge }, partitionKey: 'k' },
      ]),
    )
    expect(isEventfoldError(error, 'MESSAGE_TOO_LARGE')).toBe(true)
    expect(error).toMatchObject({ field: 'messages[1]', messageIndex: 1, limit: LIMIT })
    expect(error.size as number).toBeGreaterThan(LIMIT)
    // Just under the limit goes through, byte for byte; a marker after it proves the refused batch left nothing.
    const fits = 'y'.repeat(LIMIT - 1024)
    await transport.publish([
      { type: 'Fits', data: fits, partitionKey: 'k' },
      { type: 'Marker', data: 0, partitionKey: 'k' },
    ])
    await waitFor('both', () => got.length === 2)
    expect(got.map((m) => m.type)).toEqual(['Fits', 'Marker'])
    expect(got[0]?.data).toBe(fits)
  })

  it('carries quotes, backslashes, dollar signs and SQL-looking text in types and keys, and NUL and astral characters in data, as plain values', async () => {
    const type = `Order'; DROP TABLE x; --\\"`
    const got: ReceivedMessage[] = []
    await transport.subscribe({ group: 'odd-types', types: [type], handler: (m) => void got.push(m) })
    const data = { text: `'"\\ $1 $$ \u0000 ✓ 𝄞`, nested: [null, true, 1.5] }
    await transport.publish([{ type, data, partitionKey: `k'"\\ $1`, subject: 'a/b\\c' }])
    await waitFor('the message', () => got.length === 1)
    expect(got[0]).toMatchObject({ type, data, partitionKey: `k'"\\ $1`, subject: 'a/b\\c' })
  })

  it('carries null data, a NUL in a foreign header, and a lone surrogate in a key (its row orders it as U+FFFD; the message keeps it)', async () => {
    const got: ReceivedMessage[] = []
    await transport.subscribe({ group: 'odd-values', types: ['Odd'], handler: (m) => void got.push(m) })
    await transport.publish([{ type: 'Odd', data: null, partitionKey: 'k\ud800' }])
    await transport.publishRaw({
      type: 'Odd',
      headers: { ce_specversion: '1.0', ce_id: 'raw-1', ce_source: 'elsewhere', ce_type: 'Odd', ce_subject: 'a\u0000b' },
      contentType: 'application/json',
      body: Buffer.from('[1]'),
    })
    await waitFor('both', () => got.length === 2)
    expect(got[0]).toMatchObject({ data: null, partitionKey: 'k\ud800' })
    expect(got[1]).toMatchObject({ id: 'raw-1', subject: 'a\u0000b', data: [1] })
  })

  it('stores headers as the JSON they were published as, whether they travel as an object or, holding an escape, as a string; leaves message_id NULL', async () => {
    // A control character and a lone surrogate are written as escapes (the string way); a literal
    // backslash before a u looks like one (a false alarm, also the string way); the rest go as objects.
    const subjects = ['plain é 𝄞 "quoted"', 'bell \u0007', 'lone \udc00', 'looks like \\u0041', 'tab\there']
    const group = 'stored-headers'
    await (await transport.subscribe({ group, types: ['Stored'], handler: () => {} })).stop()
    const { ids } = await transport.publish(subjects.map((subject) => ({ type: 'Stored', data: 1, subject })))
    const rows = await admin<{ headers: string; message_id: string | null }>(
      `SELECT headers::text AS headers, message_id FROM "${schema}".transport_deliveries WHERE group_name = $1 ORDER BY id`,
      [group],
    )
    expect(rows.map((r) => r.message_id)).toEqual(subjects.map(() => null))
    const stored = rows.map((r) => JSON.parse(r.headers) as Record<string, string>)
    expect(stored.map((h) => h.ce_subject)).toEqual(subjects)
    expect(stored.map((h) => h.ce_id)).toEqual(ids)
    // Verbatim: the text is what JSON.stringify wrote, byte for byte.
    expect(rows.map((r) => r.headers)).toEqual(stored.map((h) => JSON.stringify(h)))
    const got: ReceivedMessage[] = []
    await transport.subscribe({ group, types: ['Stored'], handler: (m) => void got.push(m) })
    await waitFor('all of them', () => got.length === subjects.length)
    expect(got.map((m) => m.subject)).toEqual(subjects)
  })

  it('refuses bad dead-letter calls with typed errors, all or nothing', async () => {
    await transport.subscribe({ group: 'dl-input', retry: { maxAttempts: 1 }, handler: () => Promise.reject(new Error('no')) })
    const { ids } = await transport.publish([{ type: 'Job', data: 1 }])
    await waitFor('the dead letter', async () => (await transport.deadLetters.list('dl-input')).length === 1)
    const notFound = await failure(() => transport.deadLetters.replay('dl-input', [ids[0]!, 'no-such-id']))
    expect(isEventfoldError(notFound, 'DEAD_LETTER_NOT_FOUND')).toBe(true)
    expect(notFound.deadLetterId).toBe('no-such-id')
    // The known one was not replayed either.
    expect((await transport.deadLetters.list('dl-input')).map((l) => l.id)).toEqual(ids)
    for (const [what, work] of [
      ['ids not a list', () => transport.deadLetters.discard('dl-input', 'x' as unknown as string[])],
      ['ids not strings', () => transport.deadLetters.discard('dl-input', [1 as unknown as string])],
      ['a negative limit', () => transport.deadLetters.list('dl-input', { limit: -1 })],
    ] as const) {
      expect(isEventfoldError(await failure(work), 'INVALID_ARGUMENT'), what).toBe(true)
    }
  })

  it.each([
    ['a hostile schema', { schema: 'x"; DROP SCHEMA public; --' }, 'schema'],
    ['a pg_ schema', { schema: 'pg_mine' }, 'schema'],
    ['no connection string', { connectionString: '' }, 'connectionString'],
    ['a zero visibility timeout', { visibilityTimeoutMs: 0 }, 'visibilityTimeoutMs'],
    ['a fractional poll interval', { pollIntervalMs: 1.5 }, 'pollIntervalMs'],
    ['a negative size limit', { maxMessageBytes: -1 }, 'maxMessageBytes'],
    ['no pool', { poolSize: 0 }, 'poolSize'],
    ['durableAcks that is not a boolean', { durableAcks: 'yes' as unknown as boolean }, 'durableAcks'],
  ])('refuses %s with INVALID_ARGUMENT before connecting', async (_, options, field) => {
    const error = await failure(() =>
      createPostgresTransport({ connectionString: 'postgres://nobody@127.0.0.1:1/none', ...options }),
    )
    expect(isEventfoldError(error, 'INVALID_ARGUMENT'), String(error)).toBe(true)
    expect(error.field).toBe(field)
  })

  it('fails with TRANSPORT_UNAVAILABLE when the database cannot be reached', async () => {
    const error = await failure(() => createPostgresTransport({ connectionString: 'postgres://nobody@127.0.0.1:1/none' }))
    expect(isEventfoldError(error, 'TRANSPORT_UNAVAILABLE'), String(error)).toBe(true)
  })

  it('refuses every call once closed with TRANSPORT_CLOSED', async () => {
    const s = uniqueSchema('transport_closed')
    schemas.push(s)
    const closed = await createPostgresTransport({ connectionString: DATABASE_URL, schema: s })
    await closed.close()
    for (const work of [
      () => closed.publish([{ type: 'A', data: 1 }]),
      () => closed.subscribe({ group: 'g', handler: () => {} }),
      () => closed.deadLetters.list('g'),
      () => closed.deadLetters.replay('g', ['x']),
    ]) {
      expect(isEventfoldError(await failure(work), 'TRANSPORT_CLOSED')).toBe(true)
    }
  })
})

describe('postgres transport: migration 5', () => {
  it('shares one schema and one migration history with the event store, whichever starts first, several at once', async () => {
    const s = uniqueSchema('transport_migrate')
    schemas.push(s)
    const store = storeIn(s)
    const started = await Promise.all([
      store.migrate(),
      ...Array.from({ length: 3 }, () => createPostgresTransport({ connectionString: DATABASE_URL, schema: s })),
    ])
    const versions = await admin<{ version: number }>(`SELECT version FROM "${s}".migrations ORDER BY version`)
    expect(versions.map((row) => row.version)).toEqual(migrations.map((m) => m.version))
    expect(versions.map((row) => row.version)).toContain(5)
    // Both work in it.
    await store.appendToStream('s', [{ type: 'T', data: 1 }])
    const transports = started.slice(1) as PostgresTransport[]
    const got: unknown[] = []
    await transports[0]!.subscribe({ group: 'g', handler: (m) => void got.push(m.data) })
    await transports[1]!.publish([{ type: 'T', data: 'hello' }])
    await waitFor('the message', () => got.length === 1)
    expect(got).toEqual(['hello'])
    await Promise.all([store.close(), ...transports.map((t) => t.close())])
  })
})

describe('postgres transport: migrations 9 and 10 on a live queue', () => {
  it('keeps the rows and the subscriptions a schema at version 8 had: they are delivered after the upgrade, in order', async () => {
    const s = uniqueSchema('transport_upgrade')
    schemas.push(s)
    const q = `"${s}"`
    await admin(
      `CREATE SCHEMA ${q}; CREATE TABLE ${q}.migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    )
    for (const migration of migrations.filter((m) => m.version <= 8)) {
      await admin(migration.up(q))
      await admin(`INSERT INTO ${q}.migrations (version) VALUES ($1)`, [migration.version])
    }
    // What a publisher of version 8 left: a group, and three rows of one key, one of them in a lapsed claim.
    await admin(`INSERT INTO ${q}.transport_subscriptions (group_name, type) VALUES ('old', 'Kept')`)
    for (const [n, state] of [
      [1, 'active'],
      [2, 'ready'],
      [3, 'ready'],
    ] as const) {
      await admin(
        `INSERT INTO ${q}.transport_deliveries (group_name, message_id, type, partition_key, headers, content_type, body, state, owner, locked_until, attempt)
          VALUES ('old', $1, 'Kept', 'k', $2, 'application/json', $3, $4, $5, $6, $7)`,
        [
          `m-${n}`,
          JSON.stringify({ ce_specversion: '1.0', ce_id: `m-${n}`, ce_source: 'v8', ce_type: 'Kept', ce_partitionkey: 'k' }),
          Buffer.from(String(n)),
          state,
          state === 'active' ? 'gone' : null,
          state === 'active' ? new Date(Date.now() - 1_000) : null,
          state === 'active' ? 1 : 0,
        ],
      )
    }
    const upgraded = await createPostgresTransport({ connectionString: DATABASE_URL, schema: s, pollIntervalMs: 100 })
    try {
      const got: ReceivedMessage[] = []
      await upgraded.subscribe({ group: 'old', handler: (m) => void got.push(m) })
      await upgraded.publish([{ type: 'Kept', data: 4, partitionKey: 'k' }])
      await waitFor('all four', () => got.length === 4)
      expect(got.map((m) => m.data)).toEqual([1, 2, 3, 4])
      expect(got[0]?.attempt).toBe(2)
      const versions = await admin<{ version: number }>(`SELECT version FROM ${q}.migrations ORDER BY version`)
      expect(versions.map((row) => row.version)).toEqual(migrations.map((m) => m.version))
    } finally {
      await upgraded.close()
    }
  })
})
