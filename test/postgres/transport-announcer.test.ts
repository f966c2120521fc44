import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { schemaNames } from '../../src/postgres/identifiers.js'
import { Announcer, MIN_GAP_MS } from '../../src/postgres/transport/announcer.js'
import { Db } from '../../src/postgres/transport/db.js'
import { DATABASE_URL, sleep, uniqueSchema } from './helpers.js'

// No table is touched: the schema only names the notification channel.
const names = schemaNames(uniqueSchema('transport_announcer'))
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 })
const listener = new pg.Client({ connectionString: DATABASE_URL })
const heard: { payload: string }[] = []

beforeAll(async () => {
  await listener.connect()
  listener.on('notification', (n) => heard.push({ payload: n.payload ?? '' }))
  await listener.query(`LISTEN "${names.messagesChannel}"`)
})

afterAll(async () => {
  await listener.end()
  await pool.end()
})

const localWakeups: string[][] = []
const announcer = new Announcer(new Db(pool, undefined), names, (groups) => localWakeups.push([...groups]), undefined)

it('coalesces a stream of announcements into notifications at least MIN_GAP_MS apart, naming every group', async () => {
  heard.length = 0
  localWakeups.length = 0
  const started = performance.now()
  for (let i = 0; i < 100; i++) {
    announcer.announce([`g${i % 7}`])
    await sleep(0.5)
  }
  await announcer.flushed()
  const elapsed = performance.now() - started
  await sleep(200)
  // Local consumers hear every announcement at once.
  expect(localWakeups).toHaveLength(100)
  expect(heard.length).toBeGreaterThan(0)
  // Sent at least MIN_GAP_MS apart, all between the first announcement and the flush. Without the
  // gap, each notification follows the last one's round trip: several per gap.
  expect(heard.length).toBeLessThanOrEqual(Math.floor(elapsed / MIN_GAP_MS) + 1)
  const named = new Set(heard.flatMap((h) => h.payload.split(',')))
  expect([...named].sort()).toEqual(['g0', 'g1', 'g2', 'g3', 'g4', 'g5', 'g6'])
})

it('announces a lone publish after a quiet spell on its own', async () => {
  await sleep(MIN_GAP_MS * 4)
  heard.length = 0
  announcer.announce(['solo'])
  await announcer.flushed()
  await sleep(200)
  expect(heard.map((h) => h.payload)).toEqual(['solo'])
})
