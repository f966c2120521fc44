import { randomBytes, randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AppendResult, isEventfoldError, type RecordedEvent } from '../../src/index.js'
import { createPostgresEventStore } from '../../src/postgres/index.js'
import { admin, collect, dropSchema, eventually, sleep, storeIn, tagged, uniqueSchema } from './helpers.js'

const schema = uniqueSchema('faults')
// Every session of the store under test carries this name, so the test can kill exactly those.
const appName = `ef_faults_${randomBytes(4).toString('hex')}`
const warnings: string[] = []
const store = createPostgresEventStore({
  connectionString: tagged(appName),
  schema,
  poolSize: 4,
  logger: { warn: (message) => warnings.push(message) },
})
// Another process on the same schema, never killed: the referee.
const referee = storeIn(schema)

beforeAll(async () => {
  await store.migrate()
  // Test only: 'Slow' and 'Busy' events keep their append transaction open, so a kill lands mid-way.
  await admin(`
    CREATE FUNCTION "${schema}".stall() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_sleep(CASE NEW.type WHEN 'Slow' THEN 0.5 ELSE 0.01 END); RETURN NEW; END $$;
    CREATE TRIGGER stall BEFORE INSERT ON "${schema}".events
    FOR EACH ROW WHEN (NEW.type IN ('Slow', 'Busy')) EXECUTE FUNCTION "${schema}".stall();`)
})

afterAll(async () => {
  await Promise.all([store.close(), referee.close()])
  await dropSchema(schema)
})

const appending = `query LIKE '%append_batch%' AND state = 'active'`

/** Terminates every session of the store under test and waits until they are gone. */
async function killStoreSessions(): Promise<number> {
  const rows = await admin<{ pid: number }>(
    'SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
    [appName],
  )
  const pids = rows.map((row) => row.pid)
  const alive = async () => (await admin('SELECT 1 FROM pg_stat_activity WHERE pid = ANY ($1::int[])', [pids])).length
  for (let i = 0; i < 100 && (await alive()) > 0; i++) await sleep(20)
  return pids.length
}

const sessions = (where: string) => admin(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND ${where}`, [appName])

async function waitFor(where: string) {
  for (let i = 0; i < 500 && (await sessions(where)).length === 0; i++) await sleep(2)
}

const codeOf = (error: unknown) => (isEventfoldError(error) ? error.code : `unexpected: ${String(error)}`)

describe('postgres faults', () => {
  it('fails an append whose connection dies mid-transaction with STORE_UNAVAILABLE; retrying it is safe', async () => {
    const events = [{ id: randomUUID(), type: 'Slow', data: 1 }]
    const pending = store.appendToStream('in-flight', events).catch((error: unknown) => error)
    await waitFor(appending)
    expect(await killStoreSessions()).toBeGreaterThan(0)
    const error = await pending
    expect(codeOf(error)).toBe('STORE_UNAVAILABLE')
    expect((error as Error).cause).toBeDefined()
    expect(await collect(referee.readStream('in-flight'))).toEqual([])
    const first = await store.appendToStream('in-flight', events)
    expect(await store.appendToStream('in-flight', events)).toEqual(first)
    expect((await collect(referee.readStream('in-flight'))).map((e) => e.id)).toEqual([events[0]!.id])
  })

  it('never reports a false success under load, and recovers with its subscription', async () => {
    const delivered: RecordedEvent[] = []
    const subscription = store.subscribeToAll({ handler: (event) => void delivered.push(event) })
    await subscription.caughtUp
    const successes: { id: string; result: AppendResult }[] = []
    const failures: string[] = []
    let running = true
    const writers = Array.from({ length: 6 }, async (_, w) => {
      while (running) {
        const id = randomUUID()
        try {
          const type = Math.random() < 0.5 ? 'Busy' : 'Fast'
          successes.push({ id, result: await store.appendToStream(`load-${w}`, [{ id, type, data: w }]) })
        } catch (error) {
          failures.push(codeOf(error))
          await sleep(5)
        }
      }
    })
    // Each kill waits for an append to be mid-transaction, so it is sure to hit one.
    await sleep(300)
    await waitFor(appending)
    await killStoreSessions()
    await sleep(300)
    await waitFor(appending)
    await killStoreSessions()
    const beforeLast = successes.length
    await sleep(500)
    running = false
    await Promise.all(writers)

    expect(failures.length).toBeGreaterThan(0)
    expect(failures.every((code) => code === 'STORE_UNAVAILABLE')).toBe(true)
    expect(successes.length).toBeGreaterThan(beforeLast)
    const log = await collect(referee.readAll())
    const byPosition = new Map(log.map((event) => [event.position, event]))
    for (const { id, result } of successes) expect(byPosition.get(result.position)?.id).toBe(id)

    // The subscription rode out both kills and has everything, including what only the referee writes now.
    const late = await referee.appendToStream('late', [{ type: 'Fast', data: 'after the kills' }])
    await eventually(() => delivered.some((event) => event.position === late.position), 10_000, 'the late event')
    expect(subscription.error).toBeUndefined()
    const deliveredIds = delivered.map((event) => event.id)
    expect(deliveredIds).toEqual((await collect(referee.readAll({ after: log[0]!.position - 1n }))).map((e) => e.id))
    expect(new Set(deliveredIds).size).toBe(deliveredIds.length)
    // The notification connection came back by itself; dropped connections were reported, not thrown.
    let listening = 0
    for (let i = 0; i < 100 && listening === 0; i++, await sleep(50)) listening = (await sessions(`query LIKE 'LISTEN%'`)).length
    expect(listening).toBe(1)
    expect(warnings.length).toBeGreaterThan(0)
    await subscription.stop()
  })

  it('works again after a kill without being recreated', async () => {
    await killStoreSessions()
    const result = await store.appendToStream('after-kill', [{ type: 'Fast', data: 1 }])
    const seen: RecordedEvent[] = []
    const subscription = store.subscribeToStream('after-kill', { handler: (event) => void seen.push(event) })
    await subscription.caughtUp
    await referee.appendToStream('after-kill', [{ type: 'Fast', data: 2 }])
    await eventually(() => seen.length === 2, 10_000, 'both events')
    expect(seen.map((e) => e.revision)).toEqual([0n, 1n])
    expect(seen[0]!.position).toBe(result.position)
    await subscription.stop()
  })

  it('reports an unreachable server as STORE_UNAVAILABLE, and a subscription waits it out', async () => {
    const down = createPostgresEventStore({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema })
    try {
      const outcomes = await Promise.all([
        down.migrate().catch(codeOf),
        down.appendToStream('s', [{ type: 'T', data: 1 }]).catch(codeOf),
        collect(down.readAll()).catch(codeOf),
        collect(down.readStream('s')).catch(codeOf),
        down.deleteStream('s').catch(codeOf),
      ])
      expect(outcomes).toEqual(Array(5).fill('STORE_UNAVAILABLE'))
      const subscription = down.subscribeToAll({ handler: () => {} })
      await sleep(300)
      expect(subscription.error).toBeUndefined()
      await subscription.stop()
    } finally {
      await down.close()
    }
  })
})
