import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createPostgresTransport, type PostgresTransport } from '../../src/postgres/index.js'
import { waitFor } from '../messaging/conformance/helpers.js'
import { admin, DATABASE_URL, dropSchema, sleep, tagged, uniqueSchema } from './helpers.js'

const schema = uniqueSchema('transport_faults')
// Every session of the consumer's transport carries this name, so the test can kill exactly those.
const appName = `ef_tfaults_${randomBytes(4).toString('hex')}`
const warnings: string[] = []
let consumerSide: PostgresTransport
let publisherSide: PostgresTransport

beforeAll(async () => {
  const settings = { schema, visibilityTimeoutMs: 1_500, pollIntervalMs: 200, poolSize: 4 }
  consumerSide = await createPostgresTransport({
    connectionString: tagged(appName),
    ...settings,
    logger: { warn: (message) => warnings.push(message) },
  })
  publisherSide = await createPostgresTransport({ connectionString: DATABASE_URL, ...settings })
})

afterAll(async () => {
  await Promise.all([consumerSide.close(), publisherSide.close()])
  await dropSchema(schema)
})

/** Terminates every session of the consumer's transport (pool and LISTEN connection) and waits until they are gone. */
async function killConsumerSessions(): Promise<number> {
  const rows = await admin<{ pid: number }>(
    'SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
    [appName],
  )
  const pids = rows.map((row) => row.pid)
  await waitFor(
    'the sessions to end',
    async () => (await admin('SELECT 1 FROM pg_stat_activity WHERE pid = ANY ($1::int[])', [pids])).length === 0,
  )
  return pids.length
}

const listening = async () =>
  (await admin(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`, [appName])).length

it('a consumer whose connections are all terminated comes back by itself; no published message is lost', async ({ annotate }) => {
  const deliveries: string[] = []
  await consumerSide.subscribe({
    group: 'survivors',
    concurrency: 4,
    handler: async (m) => {
      deliveries.push(m.id)
      // Handlers in flight when the kill lands: their settle meets a dead connection.
      await sleep(10)
    },
  })
  const published: string[] = []
  let publishing = true
  const loop = (async () => {
    for (let i = 0; publishing; i++) {
      const batch = Array.from({ length: 5 }, (_, k) => ({ type: 'Tick', data: i * 5 + k, partitionKey: `k${k}` }))
      published.push(...(await publisherSide.publish(batch)).ids)
      await sleep(5)
    }
  })()

  const killed: number[] = []
  for (let round = 0; round < 3; round++) {
    const before = new Set(deliveries).size
    await waitFor('deliveries to flow', () => new Set(deliveries).size >= before + 30)
    await waitFor('the notification connection', async () => (await listening()) === 1)
    killed.push(await killConsumerSessions())
  }
  const afterLast = new Set(deliveries).size
  await waitFor('deliveries to flow after the last kill', () => new Set(deliveries).size >= afterLast + 30)
  publishing = false
  await loop

  await waitFor('every published message to arrive', () => published.every((id) => deliveries.includes(id)), 30_000)
  // The LISTEN connection came back too, and nothing is left in the queue or among the dead.
  await waitFor('the notification connection to come back', async () => (await listening()) === 1)
  await waitFor('the queue to empty', async () => {
    const [row] = await admin<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}".transport_deliveries`)
    return row?.n === '0'
  })
  expect(await consumerSide.deadLetters.list('survivors')).toEqual([])
  expect(killed.every((n) => n >= 2)).toBe(true)
  expect(warnings.length).toBeGreaterThan(0)
  expect(published.filter((id) => !deliveries.includes(id))).toEqual([])
  const duplicates = deliveries.length - new Set(deliveries).size
  await annotate(`${published.length} published, ${deliveries.length} deliveries, ${duplicates} duplicates`)
  expect(new Set(deliveries).size).toBe(published.length)
}, 90_000)
