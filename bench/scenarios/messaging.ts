import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { promisify } from 'node:util'
import { createMessage, encodeBinary, type Transport } from '../../src/index.js'
import { benchParts, latencyBeside, latencySeconds, now, sleep, transportSide } from '../lib/measure.js'
import { emit } from '../lib/report.js'

const AMQP_BASE = process.env.EVENTFOLD_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const NATS_SERVERS = process.env.EVENTFOLD_NATS_SERVERS ?? '127.0.0.1:4222'
const BATCH = 100
const WARM_UP = 2_000
/** The transports' default shard count. */
const SHARDS = 16
const PAYLOAD = { orderId: 'o-12345', amount: 42, currency: 'EUR', note: 'a typical small integration event' }
const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`

/** The bare client doing the same work as the transport: the baseline of each figure. */
interface Bare {
  /** Publishes `count` messages in batches of BATCH, each batch confirmed by the broker. */
  publish(count: number): Promise<void>
  /**
   * The same, spread over as many queues as the transport has shards (where the broker's cost
   * grows with the queues a batch touches): the part of the gap that is the sharding's, not the client's.
   */
  publishSpread?(count: number): Promise<void>
  /** Receives and acknowledges `count` messages published beforehand, calling `onEach` once each is acknowledged. */
  consume(count: number, onEach: () => void): Promise<void>
  /** Starts a consumer that calls `onMessage` with each body; returns a stop function. */
  listen(onMessage: (body: Buffer) => void): Promise<() => Promise<void>>
  publishOne(body: Buffer): Promise<void>
  /** Publishes these bodies and waits for the broker to confirm them all. */
  publishAll(bodies: Buffer[]): Promise<void>
  close(): Promise<void>
}

interface Broker {
  name: string
  transport(): Promise<Transport>
  bare(): Promise<Bare>
  cleanup(): Promise<void>
}

async function rabbitmq(): Promise<Broker> {
  const vhost = `ef-bench-${unique()}`
  const ctl = (...args: string[]) => promisify(execFile)('rabbitmqctl', ['-q', ...args])
  await ctl('add_vhost', vhost)
  await ctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*')
  const url = `${AMQP_BASE}/${encodeURIComponent(vhost)}`
  const { createRabbitMqTransport } = await import('../../src/rabbitmq/index.js')
  const amqp = await import('amqplib')
  return {
    name: 'rabbitmq',
    transport: () => createRabbitMqTransport({ url, prefix: `b${unique()}` }),
    async bare() {
      const connection = await amqp.connect(url)
      const channel = await connection.createConfirmChannel()
      const queue = `bare-${unique()}`
      // The same work as the transport: a durable quorum queue behind a topic exchange, persistent
      // messages carrying the same CloudEvents headers.
      const exchange = `bare-x-${unique()}`
      await channel.assertExchange(exchange, 'topic', { durable: true })
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
      await channel.bindQueue(queue, exchange, '#')
      const { headers, contentType, body } = encodeBinary(createMessage({ type: 'OrderPlaced', data: PAYLOAD }, 'bench'), 'amqp')
      const options = { persistent: true, headers, contentType }
      // A CloudEvents publisher gives each message its own id and time: one header table shared by
      // every message (as this baseline had) is less work than any real publisher does.
      const own = () => ({
        ...options,
        headers: { ...headers, cloudEvents_id: randomUUID(), cloudEvents_time: new Date().toISOString() },
      })
      const sendToQueue = (_: string, content: Buffer, extra: object) =>
        channel.publish(exchange, 'OrderPlaced', content, { ...options, ...extra })
      const spread = `bare-spread-${unique()}`
      await channel.assertExchange(spread, 'topic', { durable: true })
      for (let shard = 0; shard < SHARDS; shard++) {
        const shardQueue = `${spread}-s${shard}`
        await channel.assertQueue(shardQueue, { durable: true, arguments: { 'x-queue-type': 'quorum' } })
        await channel.bindQueue(shardQueue, spread, `s${shard}.#`)
      }
      return {
        async publish(count) {
          for (let sent = 0; sent < count; sent += BATCH) {
            for (let i = 0; i < Math.min(BATCH, count - sent); i++)
              channel.publish(exchange, 'OrderPlaced', Buffer.from(body), own())
            await channel.waitForConfirms()
          }
        },
        async publishSpread(count) {
          for (let sent = 0; sent < count; sent += BATCH) {
            for (let i = 0; i < Math.min(BATCH, count - sent); i++) {
              channel.publish(spread, `s${(sent + i) % SHARDS}.OrderPlaced`, Buffer.from(body), own())
            }
            await channel.waitForConfirms()
          }
        },
        async consume(count, onEach) {
          const consumer = await connection.createChannel()
          await consumer.prefetch(64)
          let seen = 0
          await new Promise<void>((resolve) => {
            void consumer.consume(queue, (msg) => {
              if (msg === null) return
              JSON.parse(msg.content.toString())
              consumer.ack(msg)
              onEach()
              if (++seen === count) resolve()
            })
          })
          await consumer.close()
        },
        async listen(onMessage) {
          const consumer = await connection.createChannel()
          await consumer.prefetch(64)
          await consumer.consume(queue, (msg) => {
            if (msg === null) return
            onMessage(msg.content)
            consumer.ack(msg)
          })
          return () => consumer.close()
        },
        async publishOne(message) {
          // Its own CloudEvents id and time, like every message of the throughput baseline.
          channel.publish(exchange, 'OrderPlaced', message, own())
          await channel.waitForConfirms()
        },
        async publishAll(bodies) {
          for (const message of bodies) sendToQueue(queue, message, {})
          await channel.waitForConfirms()
        },
        close: () => connection.close(),
      }
    },
    cleanup: async () => void (await ctl('delete_vhost', vhost)),
  }
}

async function nats(): Promise<Broker> {
  const prefixes: string[] = []
  const { createNatsTransport } = await import('../../src/nats/index.js')
  const { connect, headers: natsHeaders } = await import('@nats-io/transport-node')
  const js = await import('@nats-io/jetstream')
  return {
    name: 'nats',
    transport: () => {
      const prefix = `b${unique()}`
      prefixes.push(prefix)
      return createNatsTransport({ servers: NATS_SERVERS, prefix })
    },
    async bare() {
      // The transport's own connect option: without it every request captures a stack, work the
      // transport does not do and that is no part of publishing.
      const nc = await connect({ servers: NATS_SERVERS, noAsyncTraces: true })
      const jsm = await js.jetstreamManager(nc)
      const name = `bare_${unique()}`
      // Interest retention, as the transport's stream: a message goes once its consumer acknowledged
      // it, as RabbitMQ's queue and the PostgreSQL baseline's DELETE drop theirs. A stream that keeps
      // everything (the default) spares the server that removal, work a queue has to do.
      await jsm.streams.add({ name, subjects: [`${name}.>`], retention: js.RetentionPolicy.Interest })
      await jsm.consumers.add(name, { durable_name: 'c', ack_policy: js.AckPolicy.Explicit })
      const client = js.jetstream(nc)
      // The same work as the transport: each message carries the CloudEvents headers (binary mode).
      const encoded = encodeBinary(createMessage({ type: 'OrderPlaced', data: PAYLOAD }, 'bench'), 'nats')
      const headers = natsHeaders()
      for (const [name, value] of Object.entries(encoded.headers)) headers.set(name, String(value))
      if (encoded.contentType !== undefined) headers.set('content-type', encoded.contentType)
      // A CloudEvents publisher gives each message its own id and time, so its own headers: one
      // headers object shared by every message (as this baseline had) is less work than any real
      // publisher does. `append` on fresh headers, the cheapest the client offers, as the transport does.
      const own = () => {
        const fresh = natsHeaders()
        for (const [name, value] of Object.entries(encoded.headers)) {
          fresh.append(name, name === 'ce-id' ? randomUUID() : name === 'ce-time' ? new Date().toISOString() : value)
        }
        if (encoded.contentType !== undefined) fresh.append('content-type', encoded.contentType)
        return fresh
      }
      const body = Buffer.from(encoded.body)
      const consumeWith = async (handle: (data: Uint8Array) => boolean) => {
        const consumer = await client.consumers.get(name, 'c')
        const messages = await consumer.consume({ max_messages: 256 })
        for await (const m of messages) {
          m.ack()
          if (handle(m.data)) break
        }
        await messages.close()
      }
      return {
        async publish(count) {
          // Each publish is acknowledged by JetStream; a batch waits for all of its acks, as the transport does.
          for (let sent = 0; sent < count; sent += BATCH) {
            const batch = Array.from({ length: Math.min(BATCH, count - sent) }, () =>
              client.publish(`${name}.e`, body, { headers: own() }),
            )
            await Promise.all(batch)
          }
        },
        async consume(count, onEach) {
          let seen = 0
          // Decoded, as the other bare consumers do: a consumer reads what it is given.
          await consumeWith((data) => {
            JSON.parse(Buffer.from(data).toString('utf8'))
            onEach()
            return ++seen === count
          })
        },
        async listen(onMessage) {
          let stopped = false
          const done = consumeWith((data) => {
            onMessage(Buffer.from(data))
            return stopped
          })
          return async () => {
            stopped = true
            await client.publish(`${name}.e`, Buffer.from('{}'))
            await done
          }
        },
        // Its own CloudEvents headers, like every message of the throughput baseline.
        publishOne: async (message) => void (await client.publish(`${name}.e`, message, { headers: own() })),
        publishAll: async (bodies) => void (await Promise.all(bodies.map((b) => client.publish(`${name}.e`, b)))),
        async close() {
          await jsm.streams.delete(name)
          await nc.close()
        },
      }
    },
    async cleanup() {
      const nc = await connect({ servers: NATS_SERVERS })
      const jsm = await js.jetstreamManager(nc)
      for (const prefix of prefixes) {
        for (const stream of [`${prefix}_events`, `${prefix}_dead`, `KV_${prefix}_leases`])
          await jsm.streams.delete(stream).catch(() => {})
      }
      await nc.close()
    },
  }
}

async function redis(): Promise<Broker> {
  const url = process.env.EVENTFOLD_REDIS_URL ?? 'redis://127.0.0.1:6379'
  const prefix = `ef-bench-${unique()}`
  const { createRedisTransport } = await import('../../src/redis/index.js')
  const { Redis } = await import('ioredis')
  const admin = new Redis(url)
  return {
    name: 'redis',
    transport: () => createRedisTransport({ url, prefix: `${prefix}-t` }),
    async bare() {
      const client = new Redis(url)
      const reader = new Redis(url)
      const stream = `${prefix}-bare-${unique()}`
      await client.xgroup('CREATE', stream, 'c', '$', 'MKSTREAM')
      // The same work as the transport: an entry carrying the CloudEvents attributes as fields, a
      // bounded stream, each batch in one MULTI whose reply confirms it.
      const { headers, contentType, body } = encodeBinary(createMessage({ type: 'OrderPlaced', data: PAYLOAD }, 'bench'), 'kafka')
      const { ce_id: _id, ce_time: _time, ...shared } = headers
      const fields = Object.entries({ ...shared, 'content-type': contentType ?? '' }).flat()
      // Each message its own id and time, as a CloudEvents publisher gives them (see the RabbitMQ baseline).
      const own = () => [...fields, 'ce_id', randomUUID(), 'ce_time', new Date().toISOString()]
      const add = (batch: ReturnType<typeof client.multi>, stream: string, data: string) =>
        batch.xadd(stream, 'MAXLEN', '~', 100_000, '*', ...own(), 'data', data)
      const text = body.toString('utf8')
      const publishTo = async (count: number, streamOf: (i: number) => string) => {
        for (let sent = 0; sent < count; sent += BATCH) {
          const batch = client.multi()
          for (let i = 0; i < Math.min(BATCH, count - sent); i++) add(batch, streamOf(sent + i), text)
          await batch.exec()
        }
      }
      type Reply = [string, [string, string[]][]][] | null
      const read = async (count: number) =>
        (
          (await reader.xreadgroup('GROUP', 'c', 'bare', 'COUNT', count, 'BLOCK', 500, 'STREAMS', stream, '>')) as Reply
        )?.[0]?.[1] ?? []
      const dataOf = (flat: string[]) => flat[flat.indexOf('data') + 1] ?? ''
      return {
        publish: (count) => publishTo(count, () => stream),
        publishSpread: (count) => publishTo(count, (i) => `${stream}-s${i % SHARDS}`),
        async consume(count, onEach) {
          for (let seen = 0; seen < count; ) {
            const entries = await read(64)
            for (const [, flat] of entries) JSON.parse(dataOf(flat))
            if (entries.length > 0) await client.xack(stream, 'c', ...entries.map(([id]) => id))
            for (let i = 0; i < entries.length; i++) onEach()
            seen += entries.length
          }
        },
        async listen(onMessage) {
          let stopped = false
          const loop = (async () => {
            while (!stopped) {
              const entries = await read(64)
              for (const [, flat] of entries) onMessage(Buffer.from(dataOf(flat)))
              if (entries.length > 0) await client.xack(stream, 'c', ...entries.map(([id]) => id))
            }
          })()
          return async () => {
            stopped = true
            await loop
          }
        },
        async publishOne(message) {
          // Its own CloudEvents id and time, like every message of the throughput baseline.
          await client.xadd(stream, 'MAXLEN', '~', 100_000, '*', ...own(), 'data', message.toString('utf8'))
        },
        async publishAll(bodies) {
          const batch = client.multi()
          for (const b of bodies) add(batch, stream, b.toString('utf8'))
          await batch.exec()
        },
        async close() {
          client.disconnect()
          reader.disconnect()
        },
      }
    },
    async cleanup() {
      const keys = await admin.keys(`${prefix}*`)
      if (keys.length > 0) await admin.del(...keys)
      admin.disconnect()
    },
  }
}

const perSecond = (count: number, ms: number) => Math.round((count / ms) * 1000)
const ratio = (ours: number, bare: number) => Number((ours / bare).toFixed(2))

/** A group that exists (so publishes are stored) but is not consuming. */
async function idleGroup(transport: Transport, group: string) {
  const consumer = await transport.subscribe({ group, handler: () => {} })
  await consumer.stop()
}

/**
 * Counts handled messages and times those after the first WARM_UP, as the publish figures do: the
 * JIT and the consumer's start are paid by then on either side (the transport's consume path is
 * much longer than a bare loop, so timing from the start charged it alone for warming up).
 */
function steadyRate(count: number) {
  let seen = 0
  let started = 0
  let ended = 0
  return {
    onEach: (): number => {
      seen++
      if (seen === WARM_UP) started = now()
      if (seen === count) ended = now()
      return seen
    },
    perSecond: () => perSecond(count - WARM_UP, ended - started),
  }
}

async function publishThroughput(broker: Broker, count: number) {
  const transport = await broker.transport()
  const messages = Array.from({ length: BATCH }, () => ({ type: 'OrderPlaced', data: PAYLOAD }))
  // Warm-up, before the group exists (so nothing is kept): whichever side ran first would otherwise
  // pay for the JIT and the connections' start alone.
  for (let sent = 0; sent < WARM_UP; sent += BATCH) await transport.publish(messages)
  await idleGroup(transport, 'sink')
  const bare = await broker.bare()
  await bare.publish(WARM_UP)
  // Each side publishes half its messages, then the other sides theirs, then back again in the
  // opposite order (ours, bare, spread, spread, bare, ours): the machine's slow spells last
  // seconds and would otherwise land on one side only (as latencyBeside does for latency).
  const sides: Record<string, (n: number) => Promise<void>> = {
    ours: async (n) => {
      for (let sent = 0; sent < n; sent += BATCH) await transport.publish(messages)
    },
    bare: (n) => bare.publish(n),
  }
  if (bare.publishSpread !== undefined) sides.spread = bare.publishSpread
  const order = Object.keys(sides)
  const spent = Object.fromEntries(order.map((side) => [side, { ms: 0, cpuUs: 0 }]))
  for (const side of [...order, ...order.toReversed()]) {
    const cpu = process.cpuUsage()
    const t = now()
    await sides[side]?.(count / 2)
    const used = process.cpuUsage(cpu)
    const total = spent[side] as { ms: number; cpuUs: number }
    total.ms += now() - t
    total.cpuUs += used.user + used.system
  }
  const rateOf = (side: string) => perSecond(count, spent[side]?.ms ?? Number.NaN)
  // This process's CPU per message, so that a reader can tell the client's share from the broker's.
  const cpuOf = (side: string) => Math.round((spent[side]?.cpuUs ?? Number.NaN) / count)
  const ours = rateOf('ours')
  const baseline = rateOf('bare')
  let spread = {}
  if (spent.spread !== undefined) {
    const spreadPerSecond = rateOf('spread')
    spread = {
      spreadBaseline: `bare client, confirmed batches spread over ${SHARDS} queues`,
      spreadBaselinePerSecond: spreadPerSecond,
      spreadRatio: ratio(ours, spreadPerSecond),
    }
  }
  emit({
    bench: 'transport-publish',
    transport: broker.name,
    messages: count,
    batch: BATCH,
    perSecond: ours,
    baseline: 'bare client, confirmed batches',
    baselinePerSecond: baseline,
    ratio: ratio(ours, baseline),
    ...spread,
    clientCpuUsPerMessage: cpuOf('ours'),
    baselineClientCpuUsPerMessage: cpuOf('bare'),
  })

  const ourRate = steadyRate(count)
  let done: () => void = () => {}
  const all = new Promise<void>((resolve) => {
    done = resolve
  })
  const consumer = await transport.subscribe({
    group: 'sink',
    concurrency: 16,
    handler: () => {
      if (ourRate.onEach() === count) done()
    },
  })
  await all
  const consumed = ourRate.perSecond()
  await consumer.stop()
  const bareRate = steadyRate(count)
  await bare.consume(count, bareRate.onEach)
  const bareConsumed = bareRate.perSecond()
  emit({
    bench: 'transport-consume',
    transport: broker.name,
    messages: count,
    concurrency: 16,
    perSecond: consumed,
    baseline: 'bare client, prefetch 64, acks',
    baselinePerSecond: bareConsumed,
    ratio: ratio(consumed, bareConsumed),
  })
  await bare.close()
  await transport.close()
}

/** Publish → handler latency at a steady offered load, one message per publish call. */
async function latency(broker: Broker, rate: number, seconds: number) {
  const transport = await broker.transport()
  const bare = await broker.bare()
  const bareSide = {
    listen: (on: (sentAt: number) => void) =>
      bare.listen((body) => on((JSON.parse(body.toString()) as { sentAt?: number }).sentAt ?? now())),
    send: () => bare.publishOne(Buffer.from(JSON.stringify({ sentAt: now() }))),
  }
  const { ours, baseline } = await latencyBeside(rate, seconds, transportSide(transport), bareSide)
  emit({
    bench: 'transport-latency',
    transport: broker.name,
    offeredPerSecond: rate,
    ms: ours,
    baseline: 'bare client',
    baselineMs: baseline,
  })
  await bare.close()
  await transport.close()
}

/** Publish and consume throughput and end-to-end latency per broker, each beside its bare client. */
export async function messaging(_backends: unknown, { quick, seconds }: { quick: boolean; seconds: number }) {
  const count = quick ? 5_000 : 20_000
  // EVENTFOLD_BENCH_BROKERS=redis,nats runs those only.
  const only = process.env.EVENTFOLD_BENCH_BROKERS?.split(',')
  const parts = benchParts()
  const brokers = { rabbitmq, nats, redis }
  for (const [name, open] of Object.entries(brokers)) {
    if (only !== undefined && !only.includes(name)) continue
    const broker = await open()
    try {
      if (parts.includes('throughput')) await publishThroughput(broker, count)
      if (parts.includes('latency')) await latency(broker, 500, latencySeconds(seconds))
    } finally {
      await broker.cleanup()
    }
  }
}

/**
 * The outbox relay, PostgreSQL → RabbitMQ, draining a backlog, beside a bare loop doing the same:
 * claim a batch of unsent rows (FOR UPDATE SKIP LOCKED), publish it with confirms, mark it sent.
 */
export async function outboxRelay(_backends: unknown, { quick }: { quick: boolean }) {
  const count = quick ? 5_000 : 20_000
  const pg = (await import('pg')).default
  const { PG_URL } = await import('../lib/backends.js')
  const { createPostgresOutbox } = await import('../../src/postgres/index.js')
  const schema = `ef_bench_outbox_${unique()}`
  const broker = await rabbitmq()
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    const outbox = createPostgresOutbox({ connectionString: PG_URL, schema })
    await outbox.migrate()
    const messages = Array.from({ length: 500 }, (_, i) => ({ type: 'OrderPlaced', data: PAYLOAD, partitionKey: `o-${i % 50}` }))
    for (let added = 0; added < count; added += messages.length) await outbox.enqueue(client, messages)
    const transport = await broker.transport()
    await idleGroup(transport, 'sink')
    const relay = outbox.relay({ transport, batchSize: 200 })
    let t = now()
    await relay.start()
    while (relay.stats().published < count) await sleep(5)
    const ours = perSecond(count, now() - t)
    await relay.stop()

    // The bare loop: a copy of the same rows, read and published by hand.
    await client.query(
      `CREATE TABLE "${schema}".bare_outbox AS SELECT seq, message::text AS message, NULL::timestamptz AS sent_at FROM "${schema}".outbox`,
    )
    await client.query(`CREATE INDEX ON "${schema}".bare_outbox (seq) WHERE sent_at IS NULL`)
    const bare = await broker.bare()
    t = now()
    for (;;) {
      await client.query('BEGIN')
      const { rows } = await client.query(
        `SELECT seq, message FROM "${schema}".bare_outbox WHERE sent_at IS NULL ORDER BY seq LIMIT 200 FOR UPDATE SKIP LOCKED`,
      )
      if (rows.length === 0) {
        await client.query('COMMIT')
        break
      }
      await bare.publishAll(rows.map((row) => Buffer.from(row.message)))
      await client.query(`UPDATE "${schema}".bare_outbox SET sent_at = now() WHERE seq = ANY ($1)`, [rows.map((r) => r.seq)])
      await client.query('COMMIT')
    }
    const baseline = perSecond(count, now() - t)
    emit({
      bench: 'outbox-relay',
      from: 'postgres',
      to: 'rabbitmq',
      messages: count,
      perSecond: ours,
      baseline: 'bare SELECT … SKIP LOCKED → publish → UPDATE loop',
      baselinePerSecond: baseline,
      ratio: ratio(ours, baseline),
    })
    await bare.close()
    await transport.close()
    await outbox.close()
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await client.end()
    await broker.cleanup()
  }
}
