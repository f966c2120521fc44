import type { Transport } from '../../../src/index.js'
import { createInMemoryTransport } from '../../../src/index.js'
import { dropSchema, PG_URL } from '../../conformance/adapters.js'
import { createVhost, deleteVhost } from '../../rabbitmq/broker.js'
import { deleteKeys } from '../../redis/admin.js'
import { unique } from './helpers.js'

/**
 * How a suite proves at-least-once delivery when a consumer dies mid-handling. A broker transport
 * kills a real child process with SIGKILL; a transport whose messages live in the process cannot
 * survive that by design, so it runs the closest thing it has, and says why.
 */
export type CrashProof = { kind: 'sigkill'; childEnv: Record<string, string> } | { kind: 'stop-without-ack'; reason: string }

export interface TransportUnderTest {
  transport: Transport
  /** Another client of the same namespace, as a second service process would have. Closed by `cleanup`. */
  connect(): Promise<Transport>
  /** Puts bytes that are no CloudEvent where a consumer of `type` will receive them. */
  publishUndecodable(type: string): Promise<void>
  crash: CrashProof
  /** Closes every client and removes everything the test created on the broker. */
  cleanup(): Promise<void>
}

export interface TransportFixture {
  /** A fresh, isolated transport for one test. */
  open(): Promise<TransportUnderTest>
  /** After the test file: removes what the file's tests shared (a vhost…). */
  teardown?(): Promise<void>
}

/**
 * Every transport, by name. A new transport is a compile error here until it has a factory, and
 * then it runs the whole messaging conformance suite.
 */
export type TransportName = 'memory' | 'rabbitmq' | 'nats' | 'redis' | 'postgres'

export const transports: Record<TransportName, TransportFixture> = {
  memory: { open: openMemory },
  rabbitmq: rabbitmqFixture(),
  nats: { open: openNats },
  redis: { open: openRedis },
  postgres: { open: openPostgres },
}

async function openMemory(): Promise<TransportUnderTest> {
  const transport = createInMemoryTransport()
  return {
    transport,
    // One process, one transport: a "second service" shares it, as two modules of one app would.
    connect: async () => transport,
    publishUndecodable: (type) =>
      transport.publishRaw({
        type,
        headers: { ce_specversion: '1.0', ce_type: type },
        contentType: 'application/json',
        body: Buffer.from('{not json'),
      }),
    crash: {
      kind: 'stop-without-ack',
      reason:
        'messages live in this process, so no other process can take over; a consumer stopped mid-handling whose handler never settles stands in for the kill',
    },
    cleanup: () => transport.close(),
  }
}

/** Settings that keep the suite quick: few shards, frequent rebalancing. */
export const RABBIT_TEST_SETTINGS = { shards: 8, rebalanceIntervalMs: 100 }

function rabbitmqFixture(): TransportFixture {
  const vhost = `ef-test-${unique()}`
  let url: Promise<string> | undefined
  return {
    async open() {
      url ??= createVhost(vhost)
      const options = { url: await url, prefix: `t${unique()}`, ...RABBIT_TEST_SETTINGS }
      // Loaded on demand: a test file of one transport never loads another's driver.
      const { createRabbitMqTransport } = await import('../../../src/rabbitmq/index.js')
      const transport = await createRabbitMqTransport(options)
      const others: Transport[] = []
      return {
        transport,
        async connect() {
          const other = await createRabbitMqTransport(options)
          others.push(other)
          return other
        },
        async publishUndecodable(type) {
          const amqp = await import('amqplib')
          const connection = await amqp.connect(options.url)
          const channel = await connection.createConfirmChannel()
          // Shard 0 of every group bound to this type: the routing key a key hashing to 0 would get.
          channel.publish(`${options.prefix}.events`, `s0.${type}`, Buffer.from('{not json'), {
            contentType: 'application/json',
            headers: { cloudEvents_specversion: '1.0', cloudEvents_type: type },
          })
          await channel.waitForConfirms()
          await connection.close()
        },
        crash: { kind: 'sigkill', childEnv: { RABBIT_URL: options.url, RABBIT_PREFIX: options.prefix } },
        async cleanup() {
          await Promise.all([transport, ...others].map((t) => t.close()))
        },
      }
    },
    async teardown() {
      if (url !== undefined) await deleteVhost(vhost)
    },
  }
}

export const NATS_SERVERS = process.env.EVENTFOLD_NATS_SERVERS ?? '127.0.0.1:4222'

/**
 * Quick crash recovery for the suite: a killed member's shards move on after 1.5 s, its messages
 * after 2 s (later than its shards, so a new holder sees newer messages before the old ones come back).
 */
export const NATS_TEST_SETTINGS = { shards: 8, ackWaitMs: 2_000, leaseMs: 1_500, rebalanceIntervalMs: 100 }

/** Every stream a NATS prefix makes: events, dead letters, and the lease bucket's. */
export const natsStreams = (prefix: string) => [`${prefix}_events`, `${prefix}_dead`, `KV_${prefix}_leases`]

async function openNats(): Promise<TransportUnderTest> {
  const prefix = `t${unique()}`
  const options = { servers: NATS_SERVERS, prefix, ...NATS_TEST_SETTINGS }
  const { createNatsTransport } = await import('../../../src/nats/index.js')
  const transport = await createNatsTransport(options)
  const others: Transport[] = []
  const admin = async <T>(
    work: (nats: typeof import('@nats-io/jetstream'), nc: import('@nats-io/transport-node').NatsConnection) => Promise<T>,
  ) => {
    const [{ connect }, jetstreamModule] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')])
    const nc = await connect({ servers: NATS_SERVERS })
    try {
      return await work(jetstreamModule, nc)
    } finally {
      await nc.close()
    }
  }
  return {
    transport,
    async connect() {
      const other = await createNatsTransport(options)
      others.push(other)
      return other
    },
    async publishUndecodable(type) {
      await admin(async ({ jetstream }, nc) => {
        const { headers } = await import('@nats-io/transport-node')
        const h = headers()
        h.set('ce-specversion', '1.0')
        h.set('ce-type', type)
        h.set('content-type', 'application/json')
        await jetstream(nc).publish(`${prefix}.s0.ev`, '{not json', { headers: h })
      })
    },
    crash: { kind: 'sigkill', childEnv: { NATS_PREFIX: prefix } },
    async cleanup() {
      await Promise.all([transport, ...others].map((t) => t.close()))
      await admin(async ({ jetstreamManager }, nc) => {
        const jsm = await jetstreamManager(nc)
        for (const stream of natsStreams(prefix)) await jsm.streams.delete(stream).catch(() => {})
      })
    },
  }
}

export const REDIS_URL = process.env.EVENTFOLD_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Quick crash recovery for the suite: a killed member's shards move on after 1.5 s. */
export const REDIS_TEST_SETTINGS = { shards: 8, leaseMs: 1_500 }

async function openRedis(): Promise<TransportUnderTest> {
  const prefix = `t${unique()}`
  const options = { url: REDIS_URL, prefix, ...REDIS_TEST_SETTINGS }
  const { createRedisTransport } = await import('../../../src/redis/index.js')
  const transport = await createRedisTransport(options)
  const others: Transport[] = []
  const admin = async (work: (redis: import('ioredis').Redis) => Promise<void>) => {
    const { Redis } = await import('ioredis')
    const redis = new Redis(REDIS_URL)
    try {
      await work(redis)
    } finally {
      await redis.quit()
    }
  }
  return {
    transport,
    async connect() {
      const other = await createRedisTransport(options)
      others.push(other)
      return other
    },
    async publishUndecodable(type) {
      await admin(async (redis) => {
        await redis.xadd(
          `${prefix}:s0`,
          '*',
          'ce_specversion',
          '1.0',
          'ce_type',
          type,
          'content-type',
          'application/json',
          'data',
          '{not json',
        )
      })
    },
    crash: { kind: 'sigkill', childEnv: { REDIS_PREFIX: prefix } },
    async cleanup() {
      await Promise.all([transport, ...others].map((t) => t.close()))
      await admin((redis) => deleteKeys(redis, prefix))
    },
  }
}

/** Quick crash recovery for the suite: a killed member's claim lapses after 1.5 s, and members look every 100 ms. */
export const POSTGRES_TEST_SETTINGS = { visibilityTimeoutMs: 1_500, pollIntervalMs: 100, poolSize: 4 }

async function openPostgres(): Promise<TransportUnderTest> {
  // A schema per test, dropped after it.
  const schema = `ef_msg_${unique()}`
  const options = { connectionString: PG_URL, schema, ...POSTGRES_TEST_SETTINGS }
  const { createPostgresTransport } = await import('../../../src/postgres/index.js')
  const transport = await createPostgresTransport(options)
  const others: Transport[] = []
  return {
    transport,
    async connect() {
      const other = await createPostgresTransport(options)
      others.push(other)
      return other
    },
    publishUndecodable: (type) =>
      transport.publishRaw({
        type,
        headers: { ce_specversion: '1.0', ce_type: type },
        contentType: 'application/json',
        body: Buffer.from('{not json'),
      }),
    crash: { kind: 'sigkill', childEnv: { PG_SCHEMA: schema } },
    async cleanup() {
      await Promise.all([transport, ...others].map((t) => t.close()))
      await dropSchema(schema)
    },
  }
}
