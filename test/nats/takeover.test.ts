import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Transport } from '../../src/index.js'
import { shardOf } from '../../src/messaging/shard.js'
import { createNatsTransport } from '../../src/nats/index.js'
import { deferred, sleep, unique, waitFor } from '../messaging/conformance/helpers.js'
import { NATS_SERVERS, natsStreams } from '../messaging/conformance/transports.js'

const CHILD = join(import.meta.dirname, '..', 'messaging', 'fixtures', 'crash-consumer.ts')
const prefix = `takeover-${unique()}`
/**
 * The lease runs out long before a dead member's messages come back (ack wait): the next holder
 * has the key's newer messages in hand for seconds before the older ones return.
 */
const SETTINGS = { shards: 8, ackWaitMs: 6_000, leaseMs: 1_000, rebalanceIntervalMs: 100 }
const KEY = 'account-7'
const SHARD = shardOf(KEY, SETTINGS.shards)
const opened: Transport[] = []
let nc: NatsConnection
let jsm: JetStreamManager

beforeAll(async () => {
  nc = await connect({ servers: NATS_SERVERS })
  jsm = await jetstreamManager(nc)
})

afterAll(async () => {
  await Promise.all(opened.map((t) => t.close()))
  for (const stream of natsStreams(prefix)) await jsm.streams.delete(stream).catch(() => {})
  await nc.close()
})

async function open(): Promise<Transport> {
  const transport = await createNatsTransport({ servers: NATS_SERVERS, prefix, ...SETTINGS })
  opened.push(transport)
  return transport
}

const consumerOf = (group: string) => jsm.consumers.info(`${prefix}_events`, `${group}_s${SHARD}`)
const steps = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ type: 'Step', data: from + i, partitionKey: KEY }))

it('a member taking over a dead member’s shard handles the messages it died with before newer ones of their key', async () => {
  const group = 'ledger'
  const publisher = await open()
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: {
      ...process.env,
      NATS_PREFIX: prefix,
      NATS_SETTINGS: JSON.stringify(SETTINGS),
      CRASH_GROUP: group,
      CRASH_TRANSPORT: 'nats',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const ready = deferred()
  const handling = deferred()
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'ready') ready.resolve()
    if (line.startsWith('handling ')) handling.resolve()
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    await ready.promise
    await publisher.publish(steps(1, 3))
    // It runs 1 (and hangs in it) with 2 and 3 waiting behind, all three unacknowledged.
    await handling.promise
    await waitFor('the doomed member to hold all three', async () => (await consumerOf(group)).num_ack_pending === 3)
  } finally {
    child.kill('SIGKILL')
  }
  await exited
  await publisher.publish(steps(4, 6))

  const seen: { step: number; attempt: number }[] = []
  const survivor = await open()
  await survivor.subscribe({
    group,
    concurrency: 8,
    handler: (m) => void seen.push({ step: m.data as number, attempt: m.attempt }),
  })
  // The adversarial moment: 4–6 delivered to the survivor, 1–3 not back yet. It must wait.
  let heldBack = false
  await waitFor('the survivor to have the newer messages', async () => {
    const info = await consumerOf(group)
    if (info.delivered.consumer_seq === 6 && info.num_ack_pending === 6 && seen.length === 0) heldBack = true
    return info.delivered.consumer_seq >= 6
  })
  await waitFor('every message', () => seen.length >= 6, 30_000)
  expect(heldBack).toBe(true)
  expect(seen.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6])
  expect(seen.slice(0, 3).every((s) => s.attempt >= 2)).toBe(true)
}, 60_000)

it('holds a shard back after a delivery went to another puller, until that message comes back', async () => {
  const group = 'gap'
  const transport = await open()
  // Creates the group's consumers.
  await (await transport.subscribe({ group, handler: () => {} })).stop()
  // A pull still open from elsewhere (as a former holder's can be), queued ahead of the new holder's.
  const foreign = await jetstream(nc).consumers.get(`${prefix}_events`, `${group}_s${SHARD}`)
  const intruder = await foreign.fetch({ max_messages: 1, expires: 20_000 })
  // The client sends the pull once the iteration starts.
  const taking = (async () => {
    for await (const msg of intruder) return msg
  })()
  await waitFor('the foreign pull to wait', async () => (await consumerOf(group)).num_waiting === 1)
  const seen: number[] = []
  await transport.subscribe({ group, concurrency: 4, handler: (m) => void seen.push(m.data as number) })
  await waitFor('the member to pull too', async () => (await consumerOf(group)).num_waiting === 2)

  await transport.publish(steps(1, 3))
  const taken = await taking
  expect(taken?.json()).toBe(1)
  await waitFor('2 and 3 delivered to the member', async () => (await consumerOf(group)).delivered.consumer_seq === 3)
  // Time enough for a member that does not hold back to run 2 and 3 out of order.
  await sleep(300)
  expect(seen).toEqual([])
  taken?.nak()
  await waitFor('all three', () => seen.length === 3)
  expect(seen).toEqual([1, 2, 3])
}, 60_000)
