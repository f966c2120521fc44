import type { ConsumerInfo } from '@nats-io/jetstream'
import type { Msg, NatsConnection } from '@nats-io/transport-node'
import { afterEach, beforeEach, expect, it, vi } from 'vitest'
import { PULL_EXPIRES_MS, PULL_HEARTBEAT_MS, PULL_RENEW_MS, PULL_SILENCE_MS, ShardReader } from '../../src/nats/shard-reader.js'

// A connection that takes pulls and answers only when told to: no 408 or heartbeat comes by itself.
function silentServer() {
  const pulls: number[] = []
  const replies: string[] = []
  const requests: { batch: number; expires: number; idle_heartbeat: number }[] = []
  let onMessage: ((error: Error | null, msg: Msg) => void) | undefined
  const nc = {
    subscribe: (_subject: string, options: { callback: typeof onMessage }) => {
      onMessage = options.callback
      return { drain: async () => {} }
    },
    publish: (subject: string, data: string, options: { reply: string }) => {
      if (subject !== 'pull') return
      pulls.push(Date.now())
      replies.push(options.reply)
      requests.push(JSON.parse(data))
    },
  } as unknown as NatsConnection
  const info = async () => ({ num_ack_pending: 0, delivered: { consumer_seq: 0 } }) as ConsumerInfo
  /**
   * An answer to the pull that went to `reply`: a status `code`, which comes on that subject, or a
   * delivery of stream (and delivery) sequence `seq`, which comes on the message's own subject.
   */
  const deliver = (reply: string, seq?: number, code?: number) => {
    const msg =
      seq === undefined
        ? { subject: reply, data: new Uint8Array(), headers: { code } }
        : { subject: 'events.0', reply: `$JS.ACK.s.c.1.${seq}.${seq}.0.0`, data: new Uint8Array(), headers: undefined }
    onMessage?.(null, msg as unknown as Msg)
  }
  /** The open pull's heartbeats, every `PULL_HEARTBEAT_MS` until `ms` have passed. */
  const beatFor = async (ms: number) => {
    for (let spent = 0; spent < ms; spent += PULL_HEARTBEAT_MS) {
      const step = Math.min(PULL_HEARTBEAT_MS, ms - spent)
      await vi.advanceTimersByTimeAsync(step)
      if (step === PULL_HEARTBEAT_MS) deliver(replies.at(-1)!, undefined, 100)
    }
  }
  return { pulls, replies, requests, deliver, beatFor, source: { nc, pullSubject: 'pull', info } }
}

const deps = (ready: number[] = []) => ({
  room: () => 16,
  starved: () => {},
  ready: (_: ShardReader, messages: { seq: number }[]) => void ready.push(...messages.map((m) => m.seq)),
  ack: () => {},
  logger: undefined,
})

beforeEach(() => {
  vi.useFakeTimers()
})

afterEach(() => {
  vi.useRealTimers()
})

it('asks again before the open pull expires, on its own clock: the server never has to say it expired', async () => {
  const { pulls, requests, source, beatFor } = silentServer()
  const reader = new ShardReader(0, source, deps())
  const started = Date.now()
  expect(pulls).toHaveLength(1)
  // Long pulls that the server keeps saying are open.
  expect(requests[0]).toMatchObject({ expires: PULL_EXPIRES_MS * 1e6, idle_heartbeat: PULL_HEARTBEAT_MS * 1e6 })

  await beatFor(PULL_RENEW_MS - 1)
  expect(pulls).toHaveLength(1)
  await vi.advanceTimersByTimeAsync(1)
  expect(pulls).toHaveLength(2)
  // No moment without a pull waiting on the server.
  expect(pulls[1]! - started).toBeLessThan(PULL_EXPIRES_MS)
  await beatFor(PULL_RENEW_MS)
  expect(pulls).toHaveLength(3)
  await reader.deactivate()
})

it('asks again when the open pull goes silent (no heartbeat, no message): the server lost it', async () => {
  const { pulls, replies, source, deliver } = silentServer()
  const ready: number[] = []
  const reader = new ShardReader(0, source, deps(ready))
  await vi.advanceTimersByTimeAsync(2_000)
  // A pull of its own time, between two silence checks (a reconnect's): renewed 2 s after a check.
  reader.repull()
  expect(pulls).toHaveLength(2)
  // A message counts as heard, as a heartbeat does: the check after it lets the pull be.
  await vi.advanceTimersByTimeAsync(13_000)
  deliver(replies[1]!, 1)
  expect(ready).toEqual([1])
  await vi.advanceTimersByTimeAsync(PULL_SILENCE_MS * 1.5 - 1)
  expect(pulls).toHaveLength(2)
  // Then a whole interval of nothing: a new pull, before the open one would have been renewed.
  await vi.advanceTimersByTimeAsync(1)
  expect(pulls).toHaveLength(3)
  expect(pulls[2]! - pulls[1]!).toBeLessThan(PULL_RENEW_MS)
  await reader.deactivate()
})

it('a heartbeat does not end the pull; a reconnect asks again at once', async () => {
  const { pulls, replies, source, deliver } = silentServer()
  const reader = new ShardReader(0, source, deps())
  deliver(replies[0]!, undefined, 100)
  await vi.advanceTimersByTimeAsync(10)
  expect(pulls).toHaveLength(1)
  reader.repull()
  expect(pulls).toHaveLength(2)
  await reader.deactivate()
  // Let go of: no more pulls, silent or not.
  await vi.advanceTimersByTimeAsync(PULL_EXPIRES_MS * 2)
  expect(pulls).toHaveLength(2)
})

it("an earlier pull's end does not end the current one; its messages are taken", async () => {
  const { pulls, replies, source, deliver, beatFor } = silentServer()
  const ready: number[] = []
  const reader = new ShardReader(0, source, deps(ready))
  await beatFor(PULL_RENEW_MS)
  expect(pulls).toHaveLength(2)
  // The first pull expires on the server: its 408 must not make a third pull.
  deliver(replies[0]!, undefined, 408)
  expect(pulls).toHaveLength(2)
  // A message the first pull brought late is taken all the same.
  deliver(replies[0]!, 1)
  expect(pulls).toHaveLength(2)
  expect(ready).toEqual([1])
  // The current pull's 408 ends it: the next goes out at once.
  deliver(replies[1]!, undefined, 408)
  expect(pulls).toHaveLength(3)
  await reader.deactivate()
})

it('a pull answered in full is followed by the next at once (deliveries count, whatever their subject)', async () => {
  const { pulls, replies, source, deliver } = silentServer()
  const reader = new ShardReader(0, source, deps())
  await vi.advanceTimersByTimeAsync(10)
  // The first pull asks for a full batch (256): the shard starts held back, reading whatever its room.
  for (let seq = 1; seq < 256; seq++) deliver(replies[0]!, seq)
  expect(pulls).toHaveLength(1)
  deliver(replies[0]!, 256)
  expect(pulls).toHaveLength(2)
  await reader.deactivate()
})
