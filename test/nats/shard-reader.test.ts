import type { ConsumerInfo } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { PULL_EXPIRES_MS, PULL_LOST_MS, ShardReader } from '../../src/nats/shard-reader.js'

// A connection that takes pulls and never answers them: no messages, and no 408 when they expire.
function silentServer() {
  const pulls: number[] = []
  const nc = {
    subscribe: () => ({ drain: async () => {} }),
    publish: (subject: string) => {
      if (subject === 'pull') pulls.push(Date.now())
    },
  } as unknown as NatsConnection
  const info = async () => ({ num_ack_pending: 0, delivered: { consumer_seq: 0 } }) as ConsumerInfo
  return { pulls, source: { nc, pullSubject: 'pull', info } }
}

beforeEach(() => {
  vi.useFakeTimers()
})

afterEach(() => {
  vi.useRealTimers()
})

it('asks again soon after a pull expires, on its own clock, when the server never says it expired', async () => {
  const { pulls, source } = silentServer()
  const reader = new ShardReader(0, source, {
    room: () => 16,
    starved: () => {},
    ready: () => {},
    ack: () => {},
    logger: undefined,
  })
  const started = Date.now()
  expect(pulls).toHaveLength(1)

  await vi.advanceTimersByTimeAsync(PULL_EXPIRES_MS)
  expect(pulls).toHaveLength(1)
  await vi.advanceTimersByTimeAsync(PULL_LOST_MS - PULL_EXPIRES_MS)
  expect(pulls).toHaveLength(2)
  // Within a tenth of the expiry: a shard never waits long past it for messages to be asked for.
  expect(pulls[1]! - started).toBeLessThanOrEqual(PULL_EXPIRES_MS * 1.1)
  await vi.advanceTimersByTimeAsync(PULL_LOST_MS)
  expect(pulls).toHaveLength(3)
  await reader.deactivate()
})
