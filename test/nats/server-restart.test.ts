import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import type { Transport } from '../../src/index.js'
import { createNatsTransport } from '../../src/nats/index.js'
import { PULL_SILENCE_MS } from '../../src/nats/shard-reader.js'
import { waitFor } from '../messaging/conformance/helpers.js'
import { NATS_TEST_SETTINGS } from '../messaging/conformance/transports.js'

// Each test has a NATS server of its own, on a free port with its own JetStream directory:
// restarting the machine's shared server would disturb every other test file running at the same time.
const storeDirs: string[] = []
const opened: Transport[] = []
const servers = new Set<ChildProcess>()

afterAll(async () => {
  await Promise.all(opened.map((t) => t.close().catch(() => {})))
  for (const server of servers) server.kill('SIGKILL')
  for (const dir of storeDirs) rmSync(dir, { recursive: true, force: true })
})

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

async function startServer(port: number, storeDir: string): Promise<ChildProcess> {
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: 'ignore' })
  servers.add(child)
  child.once('exit', () => servers.delete(child))
  await waitFor('the NATS server to listen', () => accepting(port))
  return child
}

/** A server on a free port, and a way to kill it and start it again on the same port and store. */
async function ownServer() {
  const port = await freePort()
  const storeDir = mkdtempSync(join(tmpdir(), 'eventfold-nats-'))
  storeDirs.push(storeDir)
  let server = await startServer(port, storeDir)
  return {
    servers: `127.0.0.1:${port}`,
    async restart(pauseMs = 0) {
      const exited = once(server, 'exit')
      server.kill('SIGKILL')
      await exited
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
      server = await startServer(port, storeDir)
    },
  }
}

const accepting = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = new Socket()
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.connect(port, '127.0.0.1')
  })

it('comes back after the NATS server itself is killed and restarted, losing no acknowledged publish', async () => {
  const nats = await ownServer()
  const open = async () => {
    const transport = await createNatsTransport({ servers: nats.servers, prefix: 'restart', ...NATS_TEST_SETTINGS })
    opened.push(transport)
    return transport
  }
  const publisher = await open()
  const consumer = await open()
  const received = new Set<string>()
  await consumer.subscribe({ group: 'survivors', concurrency: 4, handler: (m) => void received.add(m.id) })

  const confirmed: string[] = []
  let publishing = true
  const loop = (async () => {
    for (let i = 0; publishing; i++) {
      try {
        const { ids } = await publisher.publish([{ type: 'Tick', data: i, partitionKey: `k${i % 5}` }])
        confirmed.push(...ids)
      } catch {
        // Not acknowledged (the server was gone too long): never promised, so not checked.
      }
    }
  })()

  for (let round = 0; round < 2; round++) {
    const before = confirmed.length
    await waitFor('publishes to flow', () => confirmed.length >= before + 20)
    await nats.restart(300)
  }
  const afterLast = confirmed.length
  await waitFor('publishes to flow after the last restart', () => confirmed.length >= afterLast + 20, 30_000)
  publishing = false
  await loop

  await waitFor('every acknowledged message to arrive', () => confirmed.every((id) => received.has(id)), 60_000)
  expect(confirmed.filter((id) => !received.has(id))).toEqual([])
  expect(confirmed.length).toBeGreaterThan(60)
}, 120_000)

it('asks for messages again as soon as it is back: pulls open before a restart are gone with the server', async () => {
  // Leases long enough to outlive the restart: the same readers go on, with no new pull of their own.
  const settings = { ...NATS_TEST_SETTINGS, leaseMs: 60_000, ackWaitMs: 60_000, shards: 2 }
  const nats = await ownServer()
  const transport = await createNatsTransport({ servers: nats.servers, prefix: 'repull', ...settings })
  opened.push(transport)
  const received: number[] = []
  await transport.subscribe({ group: 'g', handler: (m) => void received.push(m.data as number) })
  await transport.publish([{ type: 'Tick', data: 1 }])
  await waitFor('the first message', () => received.length === 1)

  await nats.restart()
  await transport.publish([{ type: 'Tick', data: 2 }])
  const publishedAt = Date.now()
  // Well before a silent pull would be noticed (one to two silence checks).
  await waitFor('the message published after the restart', () => received.includes(2), PULL_SILENCE_MS / 2)
  expect(Date.now() - publishedAt).toBeLessThan(PULL_SILENCE_MS / 2)
}, 60_000)
