import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { ReceivedMessage } from '../../src/index.js'
import { createPostgresTransport, type PostgresTransport } from '../../src/postgres/index.js'
import { consumerConnection, publisherConnection } from '../../src/postgres/transport/transport.js'
import { deferred, waitFor } from '../messaging/conformance/helpers.js'
import { admin, DATABASE_URL, dropSchema, uniqueSchema } from './helpers.js'

const schema = uniqueSchema('transport_lifecycle')
const settings = { connectionString: DATABASE_URL, schema, visibilityTimeoutMs: 2_000, pollIntervalMs: 50 }
const opened: PostgresTransport[] = []

async function open(): Promise<PostgresTransport> {
  const transport = await createPostgresTransport(settings)
  opened.push(transport)
  return transport
}

beforeAll(async () => {
  await open()
})

afterAll(async () => {
  await Promise.all(opened.map((t) => t.close()))
  await dropSchema(schema)
})

const lockedUntil = async (group: string) =>
  (
    await admin<{ ms: string }>(
      `SELECT (extract(epoch FROM locked_until) * 1000)::int8::text AS ms FROM "${schema}".transport_deliveries WHERE group_name = $1`,
      [group],
    )
  ).map((row) => Number(row.ms))

it('a handler that runs past the visibility timeout keeps its message: the heartbeat extends the claim', async () => {
  const [first, second] = [await open(), await open()]
  const release = deferred()
  const deliveries: { member: string; message: ReceivedMessage }[] = []
  for (const [member, transport] of [
    ['first', first],
    ['second', second],
  ] as const) {
    await transport.subscribe({
      group: 'slow',
      handler: async (message) => {
        deliveries.push({ member, message })
        await release.promise
      },
    })
  }
  const { ids } = await first.publish([{ type: 'Slow', data: 1 }])
  await waitFor('the first delivery', () => deliveries.length === 1)
  // Wait until the claim reaches past where its first extension could only have been made half a
  // second after the original claim lapsed: without the heartbeat, the other member (polling every
  // 50 ms) would have taken the message by then.
  const [start] = await lockedUntil('slow')
  await waitFor('the claim to be extended', async () => ((await lockedUntil('slow'))[0] ?? 0) > start! + 2_500)
  release.resolve()
  await waitFor('the row to go', async () => (await lockedUntil('slow')).length === 0)
  expect(deliveries.map((d) => [d.message.id, d.message.attempt])).toEqual([[ids[0], 1]])
})

it('a retry waits in its row: a consumer started later, in another transport, gets it after the delay with the attempt counted', async () => {
  const failing = await open()
  const failed = deferred<ReceivedMessage>()
  const consumer = await failing.subscribe({
    group: 'later',
    retry: { maxAttempts: 3, initialDelayMs: 300, jitter: false },
    handler: (m) => {
      failed.resolve(m)
      throw new Error('not now')
    },
  })
  const { ids } = await failing.publish([{ type: 'Job', data: 1 }])
  expect((await failed.promise).attempt).toBe(1)
  await consumer.stop()
  await failing.close()
  // Nobody holds it: it waits in the table, not in a consumer's memory.
  const rows = await admin(`SELECT state, attempt, owner FROM "${schema}".transport_deliveries WHERE group_name = 'later'`)
  expect(rows).toEqual([{ state: 'ready', attempt: 1, owner: null }])

  const got: ReceivedMessage[] = []
  await (await open()).subscribe({ group: 'later', handler: (m) => void got.push(m) })
  await waitFor('the retry', () => got.length === 1)
  expect(got[0]).toMatchObject({ id: ids[0], attempt: 2 })
})

it("consumers' connections commit without waiting for the disk unless durableAcks says so; every connection keeps generic plans and never compiles with JIT", async () => {
  const settings = async (config: pg.ClientConfig) => {
    const client = new pg.Client(config)
    await client.connect()
    try {
      const show = async (name: string) => Object.values((await client.query(`SHOW ${name}`)).rows[0] ?? {})[0]
      return {
        synchronousCommit: await show('synchronous_commit'),
        planCacheMode: await show('plan_cache_mode'),
        jit: await show('jit'),
      }
    } finally {
      await client.end()
    }
  }
  const base = { connectionString: DATABASE_URL }
  // The server's defaults, which the options override (its jit default is the server's own choice).
  expect(await settings(base)).toMatchObject({ synchronousCommit: 'on', planCacheMode: 'auto' })
  expect(await settings(publisherConnection(base))).toEqual({
    synchronousCommit: 'on',
    planCacheMode: 'force_generic_plan',
    jit: 'off',
  })
  expect(await settings(consumerConnection(base, false))).toEqual({
    synchronousCommit: 'off',
    planCacheMode: 'force_generic_plan',
    jit: 'off',
  })
  expect(await settings(consumerConnection(base, true))).toEqual({
    synchronousCommit: 'on',
    planCacheMode: 'force_generic_plan',
    jit: 'off',
  })
})
