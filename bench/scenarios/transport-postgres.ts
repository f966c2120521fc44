import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { createMessage, encodeBinary } from '../../src/index.js'
import { createPostgresTransport, type PostgresTransport } from '../../src/postgres/index.js'
import type { BackendName } from '../lib/backends.js'
import { PG_URL } from '../lib/backends.js'
import { benchParts, latencyBeside, latencySeconds, now, ratio, sleep, throughput, transportSide } from '../lib/measure.js'
import { emit } from '../lib/report.js'

const DATA = { amount: 42, currency: 'EUR', note: 'benchmark payload of a typical small message' }
const PUBLISHERS = 8
const CONCURRENCY = 16
const KEYS = 64

const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`

/**
 * The baseline: a bare queue table holding what a delivery row holds (group, key, headers, body),
 * written with one INSERT per message and drained with DELETE … FOR UPDATE SKIP LOCKED, no
 * transport in between (no per-key order, no attempts, no visibility timeout).
 */
class BareQueue {
  readonly #table: string

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
    table = 'bare_queue',
  ) {
    this.#table = `"${schema}"."${table}"`
  }

  async create(): Promise<void> {
    await this.pool.query(`CREATE TABLE ${this.#table} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      group_name text NOT NULL, partition_key text, headers json NOT NULL, body bytea NOT NULL)`)
  }

  async insert(rows: { key: string | undefined; headers: string; body: Buffer }[]): Promise<void> {
    await this.pool.query({
      text: `INSERT INTO ${this.#table} (group_name, partition_key, headers, body)
        SELECT 'bench', k, h, b FROM unnest($1::text[], $2::json[], $3::bytea[]) AS m(k, h, b)`,
      values: [rows.map((r) => r.key ?? null), rows.map((r) => r.headers), rows.map((r) => r.body)],
    })
  }

  async analyze(schema: string): Promise<void> {
    await this.pool.query(`ANALYZE ${this.#table}; ANALYZE "${schema}".transport_deliveries`)
  }

  /** One message, announced to listeners on `channel` by the inserting transaction itself: the plain way. */
  async insertAndNotify(channel: string, headers: string, body: Buffer): Promise<void> {
    await this.pool.query({
      text: `WITH i AS (INSERT INTO ${this.#table} (group_name, headers, body) VALUES ('bench', $2, $3))
        SELECT pg_notify($1, '')`,
      values: [channel, headers, body],
    })
  }

  /** Takes and deletes up to `limit` rows, decoding each body as a consumer would. */
  async take(limit: number, onBody?: (data: { sentAt?: number }) => void): Promise<number> {
    const { rows } = await this.pool.query<{ body: Buffer }>({
      text: `DELETE FROM ${this.#table} WHERE id = ANY (ARRAY(
          SELECT id FROM ${this.#table} WHERE group_name = 'bench' ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED))
        RETURNING body`,
      values: [limit],
    })
    for (const row of rows) {
      const data = JSON.parse(row.body.toString('utf8'))
      onBody?.(data)
    }
    return rows.length
  }
}

/**
 * The headers a CloudEvents publisher writes, as every other broker's baseline carries them
 * (messaging.ts): the transport's own encoding of such a message, with each message's own id and
 * time, and its partition key where it has one.
 */
const SHARED_HEADERS = encodeBinary(createMessage({ type: 'Happened', data: DATA }, 'bench'), 'kafka').headers
const headersOf = (key?: string) =>
  JSON.stringify({
    ...SHARED_HEADERS,
    ce_id: randomUUID(),
    ce_time: new Date().toISOString(),
    ...(key === undefined ? {} : { ce_partitionkey: key }),
  })

async function publishScenario(transport: PostgresTransport, bare: BareQueue, seconds: number, batch: number) {
  const body = Buffer.from(JSON.stringify(DATA))
  const raw = await throughput(PUBLISHERS, seconds * 1000, async (w, i) => {
    await bare.insert(
      Array.from({ length: batch }, (_, k) => {
        const key = `k${(w + i + k) % KEYS}`
        return { key, headers: headersOf(key), body }
      }),
    )
    return batch
  })
  const messages = (w: number, i: number) =>
    Array.from({ length: batch }, (_, k) => ({ type: 'Happened', data: DATA, partitionKey: `k${(w + i + k) % KEYS}` }))
  const published = await throughput(PUBLISHERS, seconds * 1000, async (w, i) => {
    await transport.publish(messages(w, i))
    return batch
  })
  emit({
    bench: 'transport-publish',
    backend: 'postgres',
    batchSize: batch,
    publishers: PUBLISHERS,
    messagesPerSec: published.perSecond,
    baseline: 'INSERT',
    baselineMessagesPerSec: raw.perSecond,
    ratio: ratio(published.perSecond, raw.perSecond),
  })
}

/** Drains `count` messages already in the queue with one consumer of `CONCURRENCY`; messages per second. */
async function drain(transport: PostgresTransport, group: string, count: number): Promise<number> {
  let handled = 0
  const started = now()
  const consumer = await transport.subscribe({ group, concurrency: CONCURRENCY, handler: () => void handled++ })
  while (handled < count) await sleep(5)
  const elapsed = now() - started
  await consumer.stop()
  return Math.round((count / elapsed) * 1000)
}

async function drainBare(bare: BareQueue, count: number): Promise<number> {
  let taken = 0
  const started = now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (taken < count) {
        const n = await bare.take(1)
        if (n === 0) break
        taken += n
      }
    }),
  )
  return Math.round((taken / (now() - started)) * 1000)
}

async function consumeScenario(
  transport: PostgresTransport,
  bare: BareQueue,
  bareAsync: BareQueue,
  schema: string,
  count: number,
  keyed: boolean,
) {
  const group = `consume-${keyed ? 'keyed' : 'keyless'}`
  // The group exists (and so receives) from its first subscription on; fill its queue before it consumes.
  await (await transport.subscribe({ group, types: ['Work'], handler: () => {} })).stop()
  const body = Buffer.from(JSON.stringify(DATA))
  for (let from = 0; from < count; from += 500) {
    const size = Math.min(500, count - from)
    const key = (i: number) => (keyed ? `k${(from + i) % KEYS}` : undefined)
    await transport.publish(Array.from({ length: size }, (_, i) => ({ type: 'Work', data: DATA, partitionKey: key(i) })))
    await bare.insert(Array.from({ length: size }, (_, i) => ({ key: key(i), headers: headersOf(key(i)), body })))
  }
  // Statistics as autovacuum keeps them on a live queue: without any, the planner takes the group
  // for a few rows and sorts all of it for each claim instead of walking the claim index.
  await bare.analyze(schema)
  const bareRate = await drainBare(bare, count)
  for (let from = 0; from < count; from += 500) {
    const size = Math.min(500, count - from)
    const key = (i: number) => (keyed ? `k${(from + i) % KEYS}` : undefined)
    await bare.insert(Array.from({ length: size }, (_, i) => ({ key: key(i), headers: headersOf(key(i)), body })))
  }
  const bareAsyncRate = await drainBare(bareAsync, count)
  const rate = await drain(transport, group, count)
  emit({
    bench: 'transport-consume',
    backend: 'postgres',
    messages: count,
    keyed: keyed ? KEYS : false,
    concurrency: CONCURRENCY,
    messagesPerSec: rate,
    baseline: 'DELETE … FOR UPDATE SKIP LOCKED',
    baselineMessagesPerSec: bareRate,
    ratio: ratio(rate, bareRate),
    // The transport's consumers commit without waiting for the disk (see `durableAcks`): the bare
    // loop doing the same is the like-for-like figure.
    asyncBaseline: 'the same with synchronous_commit = off',
    asyncBaselineMessagesPerSec: bareAsyncRate,
    asyncRatio: ratio(rate, bareAsyncRate),
  })
}

/**
 * Publish → handler latency at a steady offered load, one message per publish, beside the bare
 * queue: INSERT and NOTIFY in one statement, a LISTENing client that takes what it is told about.
 */
async function latencyScenario(transport: PostgresTransport, bare: BareQueue, pool: pg.Pool, rate: number, seconds: number) {
  const channel = `bare_${unique()}`
  const { ours, baseline } = await latencyBeside(
    rate,
    seconds,
    transportSide(transport, { types: ['Ping'], concurrency: CONCURRENCY }),
    {
      async listen(on) {
        const listener = await pool.connect()
        let draining: Promise<void> | undefined
        let again = false
        // One drain at a time; a notification during a drain makes it look once more.
        const drain = () => {
          again = true
          draining ??= (async () => {
            while (again) {
              again = false
              while ((await bare.take(CONCURRENCY, (data) => on(data.sentAt ?? now()))) > 0) {}
            }
            draining = undefined
          })()
        }
        listener.on('notification', drain)
        await listener.query(`LISTEN "${channel}"`)
        return async () => {
          await listener.query(`UNLISTEN "${channel}"`)
          // The connection goes back to the pool: a handler left on it would drain the next
          // round's rows into this round's samples (a third of the bare side's were lost so).
          listener.off('notification', drain)
          listener.release()
          await draining
        }
      },
      send: () => bare.insertAndNotify(channel, headersOf(), Buffer.from(JSON.stringify({ sentAt: now() }))),
    },
  )
  emit({
    bench: 'transport-latency',
    transport: 'postgres',
    offeredPerSecond: rate,
    ms: ours,
    baseline: 'INSERT + NOTIFY in one statement, LISTEN, DELETE … SKIP LOCKED',
    baselineMs: baseline,
  })
}

/**
 * The PostgreSQL transport beside bare SQL doing the same work in the same run: publishing
 * (one INSERT per batch) and consuming with acknowledgements (take and delete).
 */
export async function transportPostgres(backends: BackendName[], { seconds, quick }: { seconds: number; quick: boolean }) {
  if (!backends.includes('postgres')) return
  const schema = `ef_bench_${unique()}`
  const pool = new pg.Pool({ connectionString: PG_URL, max: CONCURRENCY + PUBLISHERS })
  const asyncPool = new pg.Pool({ connectionString: PG_URL, max: CONCURRENCY, options: '-c synchronous_commit=off' })
  const transport = await createPostgresTransport({ connectionString: PG_URL, schema, poolSize: CONCURRENCY })
  try {
    const bare = new BareQueue(pool, schema)
    const bareAsync = new BareQueue(asyncPool, schema)
    await bare.create()
    // A group subscribed to what the publish scenario sends, so every message makes a row.
    await (await transport.subscribe({ group: 'publish', types: ['Happened'], handler: () => {} })).stop()
    const parts = benchParts()
    if (parts.includes('throughput')) {
      for (const batch of [1, 10]) await publishScenario(transport, bare, seconds, batch)
      const count = quick ? 5_000 : 20_000
      for (const keyed of [false, true]) await consumeScenario(transport, bare, bareAsync, schema, count, keyed)
    }
    // A queue of its own: the one above still holds what the publish scenario wrote.
    const pings = new BareQueue(pool, schema, 'bare_pings')
    await pings.create()
    if (parts.includes('latency')) await latencyScenario(transport, pings, pool, 500, latencySeconds(seconds))
  } finally {
    await transport.close()
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`)
    await pool.end()
    await asyncPool.end()
  }
}
