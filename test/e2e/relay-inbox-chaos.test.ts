import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { createPostgresEventStore, createPostgresInbox } from '../../src/postgres/index.js'
import { dropSchema, PG_URL } from '../conformance/adapters.js'
import { unique, waitFor } from '../messaging/conformance/helpers.js'
import { closeConnections, createVhost, deleteVhost } from '../rabbitmq/broker.js'

const id = unique()
const A_SCHEMA = `ef_e2e_a_${id}`
const B_SCHEMA = `ef_e2e_b_${id}`
const VHOST = `ef-e2e-${id}`
const ACCOUNTS = 10
const children = new Set<ChildProcess>()

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  await Promise.all([dropSchema(A_SCHEMA), dropSchema(B_SCHEMA), deleteVhost(VHOST).catch(() => {})])
})

async function spawnService(file: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', file)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`${file} exited with ${code} before it was ready: ${stderr}`)
  })
  await Promise.race([once(child.stdout as NodeJS.ReadableStream, 'data'), exited])
  exited.catch(() => {})
  return child
}

async function kill(child: ChildProcess) {
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
  children.delete(child)
}

it('service A → relay → RabbitMQ → inbox → service B: exact totals through SIGKILLs and broker disconnects', async () => {
  const url = await createVhost(VHOST)
  const env = { PG_URL, A_SCHEMA, B_SCHEMA, RABBIT_URL: url, RABBIT_PREFIX: 'e2e' }
  const store = createPostgresEventStore({ connectionString: PG_URL, schema: A_SCHEMA })
  await store.migrate()
  const inbox = createPostgresInbox({ connectionString: PG_URL, schema: B_SCHEMA })
  await inbox.migrate()
  await inbox.close()
  const db = new pg.Client({ connectionString: PG_URL })
  await db.connect()
  await db.query(`CREATE TABLE "${B_SCHEMA}".balances (account text PRIMARY KEY, total int NOT NULL, deposits int NOT NULL)`)

  // B subscribes first: a group gets the messages published after it exists.
  let consumer = await spawnService('balance-service.ts', env)
  let relay = await spawnService('relay-service.ts', env)

  const expected = new Map<string, number>()
  let written = 0
  let writing = true
  const writer = (async () => {
    while (writing) {
      const account = `acct-${written % ACCOUNTS}`
      const amount = 1 + (written % 7)
      await store.appendToStream(account, [{ type: 'Deposited', data: { account, amount } }])
      expected.set(account, (expected.get(account) ?? 0) + amount)
      written++
      await new Promise((resolve) => setTimeout(resolve, 3))
    }
  })()

  const chaos = { relayKills: 0, consumerKills: 0, disconnects: 0 }
  for (let round = 0; round < 9; round++) {
    await new Promise((resolve) => setTimeout(resolve, 250 + Math.random() * 500))
    const action = round % 3
    if (action === 0) {
      await kill(relay)
      chaos.relayKills++
      relay = await spawnService('relay-service.ts', env)
    } else if (action === 1) {
      await kill(consumer)
      chaos.consumerKills++
      consumer = await spawnService('balance-service.ts', env)
    } else {
      await closeConnections(VHOST)
      chaos.disconnects++
    }
  }
  writing = false
  await writer
  expect(written).toBeGreaterThan(200)

  const totals = async () => {
    const { rows } = await db.query(`SELECT account, total, deposits FROM "${B_SCHEMA}".balances ORDER BY account`)
    return rows as { account: string; total: number; deposits: number }[]
  }
  await waitFor(
    'service B to have every deposit',
    async () => (await totals()).reduce((sum, row) => sum + row.deposits, 0) >= written,
    90_000,
  )
  // Settle: nothing more may arrive (a late duplicate would be applied now if the inbox let it).
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  const rows = await totals()
  expect(rows.reduce((sum, row) => sum + row.deposits, 0)).toBe(written)
  expect(new Map(rows.map((row) => [row.account, row.total]))).toEqual(expected)
  const { rows: handled } = await db.query(`SELECT count(*)::int AS n FROM "${B_SCHEMA}".inbox WHERE consumer = 'balances'`)
  expect(handled[0].n).toBe(written)
  expect(chaos).toEqual({ relayKills: 3, consumerKills: 3, disconnects: 3 })

  await kill(relay)
  await kill(consumer)
  await db.end()
  await store.close()
}, 180_000)
