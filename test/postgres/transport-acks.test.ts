import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPostgresTransport, type PostgresTransport } from '../../src/postgres/index.js'
import { deferred, sleep, waitFor } from '../messaging/conformance/helpers.js'
import { DATABASE_URL, dropSchema, tagged, uniqueSchema } from './helpers.js'

// Acknowledgements held up by the database: here by a row lock, in production by a stalled disk.
const schema = uniqueSchema('transport_acks')
const app = `ef_acks_${schema.slice(-8)}`
const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 3 })
let transport: PostgresTransport

beforeAll(async () => {
  // Two connections for the consumer: room for one claim and one ack statement, not for an ack each.
  transport = await createPostgresTransport({ connectionString: tagged(app), schema, poolSize: 2 })
})

afterAll(async () => {
  await transport.close()
  await admin.end()
  await dropSchema(schema)
})

const rowsLeft = async () =>
  (await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".transport_deliveries WHERE group_name = 'g'`))
    .rows[0]?.n

/** The transport's statements waiting for a lock: 'ack' for an acknowledgement, else the statement's first word. */
async function waitingOnLocks(): Promise<string[]> {
  const { rows } = await admin.query<{ query: string }>(
    `SELECT query FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
    [app],
  )
  return rows.map((r) => (r.query.trimStart().startsWith('DELETE') ? 'ack' : (r.query.trimStart().split(/\s/)[0] ?? '')))
}

const labels = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`)

const publishLabels = (prefix: string, n: number) => transport.publish(labels(prefix, n).map((data) => ({ type: 'T', data })))

/** A consumer of concurrency 4 whose handler records each label, holding the ones `held` picks until the gate opens. */
async function gatedConsumer(held: (label: string) => boolean) {
  const handled: string[] = []
  const gate = deferred()
  const consumer = await transport.subscribe({
    group: 'g',
    types: ['T'],
    concurrency: 4,
    handler: async (message) => {
      const label = message.data as string
      if (held(label)) await gate.promise
      handled.push(label)
    },
  })
  return { consumer, handled, gate }
}

/** Begins a transaction on `locker` that locks the group's rows in hand, once there are `count` of them. */
async function lockClaimed(locker: pg.PoolClient, count: number) {
  await locker.query('BEGIN')
  await waitFor(`${count} rows claimed and locked`, async () => {
    const { rows } = await locker.query(
      `SELECT id FROM "${schema}".transport_deliveries WHERE group_name = 'g' AND state = 'active' FOR UPDATE`,
    )
    return rows.length === count
  })
}

describe('postgres transport: acknowledgements', () => {
  it('acks stalled in the database take one connection and hold up neither the slots nor the next claims', async () => {
    const { consumer, handled, gate } = await gatedConsumer((label) => label.startsWith('first'))
    const locker = await admin.connect()
    try {
      await publishLabels('first', 4)
      // Every slot busy with a claimed row: lock those rows, so that their acks wait on the lock.
      await lockClaimed(locker, 4)
      gate.resolve()
      await waitFor('the first four handled', () => handled.length === 4)
      await waitFor('their acks waiting on the lock', async () => (await waitingOnLocks()).length > 0)

      // One statement carries the four acks; the slots are free and the claim has a connection.
      await publishLabels('next', 5)
      await waitFor('the next five handled while the first acks wait', () => handled.length === 9)
      expect(await waitingOnLocks()).toEqual(['ack'])
      expect(await rowsLeft()).toBeGreaterThanOrEqual(4)
      await locker.query('COMMIT')
    } finally {
      locker.release()
    }
    // Once the lock goes, every ack lands: nothing is left and nothing came twice.
    await waitFor('every row acknowledged', async () => (await rowsLeft()) === 0)
    await consumer.stop()
    expect(handled.toSorted()).toEqual([...labels('first', 4), ...labels('next', 5)].toSorted())
  })

  it('stop waits for the acks still on their way', async () => {
    const { consumer, handled, gate } = await gatedConsumer(() => true)
    const locker = await admin.connect()
    let stopped = false
    try {
      await publishLabels('stop', 3)
      await lockClaimed(locker, 3)
      gate.resolve()
      await waitFor('their acks waiting on the lock', async () => (await waitingOnLocks()).includes('ack'))
      const stopping = consumer.stop().then(() => {
        stopped = true
      })
      await sleep(200)
      expect(handled).toHaveLength(3)
      expect(stopped).toBe(false)
      await locker.query('COMMIT')
      await stopping
    } finally {
      locker.release()
    }
    expect(stopped).toBe(true)
    expect(await rowsLeft()).toBe(0)
    expect(handled.toSorted()).toEqual(labels('stop', 3))
  })
})
