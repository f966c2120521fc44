import { type KV, Kvm } from '@nats-io/kv'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { heartbeat, type Lease, LeaseBook, leave } from '../../src/nats/leases.js'
import { sleep, unique } from '../messaging/conformance/helpers.js'
import { NATS_SERVERS } from '../messaging/conformance/transports.js'

const LEASE_MS = 300
let nc: NatsConnection
let kv: KV

// A bucket of this file's own, destroyed after it.
beforeAll(async () => {
  nc = await connect({ servers: NATS_SERVERS })
  kv = await new Kvm(nc).create(`leases_${unique()}`, { history: 1 })
})

afterAll(async () => {
  await kv.destroy()
  await nc.close()
})

const book = (owner: string) => new LeaseBook(kv, owner, LEASE_MS)

async function mustClaim(by: LeaseBook, key: string): Promise<Lease> {
  const lease = await by.claim(key)
  if (lease === undefined) throw new Error(`${key} was not free`)
  return lease
}

it('gives a free lease to one member, refuses it to another, and renews it by compare-and-set', async () => {
  const key = `g.${unique()}`
  const lease = await mustClaim(book('a'), key)
  expect(await book('b').claim(key)).toBeUndefined()
  const before = lease.revision
  expect(await book('a').renew(lease)).toBe(true)
  expect(lease.revision).toBeGreaterThan(before)
})

it('lets exactly one of several members racing for a free lease win it', async () => {
  const key = `g.${unique()}`
  const won = await Promise.all(Array.from({ length: 8 }, (_, i) => book(`m${i}`).claim(key)))
  expect(won.filter((lease) => lease !== undefined)).toHaveLength(1)
})

it('takes over a lease left unrenewed for a whole lease period as the taker saw it, and the old holder learns it lost it', async () => {
  const key = `g.${unique()}`
  const holder = book('a')
  const lease = await mustClaim(holder, key)
  const taker = book('b')
  // The taker counts from its first sight of this revision (after `watching`), not from a clock in the value.
  const watching = performance.now()
  let taken = await taker.claim(key)
  while (taken === undefined) {
    await sleep(20)
    taken = await taker.claim(key)
  }
  expect(performance.now() - watching).toBeGreaterThanOrEqual(LEASE_MS)
  // Past its own deadline it does not even try; with the deadline moved, the compare-and-set fails.
  expect(await holder.renew(lease)).toBe(false)
  expect(await holder.renew({ ...lease, validUntil: performance.now() + LEASE_MS })).toBe(false)
})

it('keeps a renewed lease from anyone else, however long', async () => {
  const key = `g.${unique()}`
  // Longer than the others: a lease renewed a third of the way in must survive a loaded machine's pauses.
  const leaseMs = 1_500
  const holder = new LeaseBook(kv, 'a', leaseMs)
  const lease = await mustClaim(holder, key)
  const taker = new LeaseBook(kv, 'b', leaseMs)
  const until = performance.now() + leaseMs * 2
  while (performance.now() < until) {
    expect(await taker.claim(key)).toBeUndefined()
    if (lease.validUntil - performance.now() < (leaseMs * 2) / 3) expect(await holder.renew(lease)).toBe(true)
    await sleep(20)
  }
})

it('frees a released lease at once; a stale release by a former holder frees nothing', async () => {
  const key = `g.${unique()}`
  const first = await mustClaim(book('a'), key)
  await book('a').release(first)
  const second = await mustClaim(book('b'), key)
  // 'a' releasing its old revision again must not free what 'b' holds now.
  await book('a').release({ ...first })
  expect(await book('c').claim(key)).toBeUndefined()
  expect(await book('b').renew(second)).toBe(true)
})

it('counts the live members of a group and forgets those that left or stopped beating', async () => {
  const key = `g.${unique()}.members`
  expect(await heartbeat(kv, key, 'a', 10_000)).toBe(1)
  expect(await heartbeat(kv, key, 'b', 10_000)).toBe(2)
  // Concurrent beats: every one is counted, none lost to a compare-and-set race.
  const counts = await Promise.all(['c', 'd', 'e'].map((m) => heartbeat(kv, key, m, 10_000)))
  expect(Math.max(...counts)).toBe(5)
  await leave(kv, key, 'e')
  expect(await heartbeat(kv, key, 'a', 10_000)).toBe(4)
  await heartbeat(kv, key, 'short', 50)
  await sleep(80)
  expect(await heartbeat(kv, key, 'a', 10_000)).toBe(4)
})

it('writes a member record only once its time in it is half gone, and counts the group at every beat', async () => {
  const key = `g.${unique()}.members`
  const revision = async () => (await kv.get(key))?.revision
  expect(await heartbeat(kv, key, 'a', 400)).toBe(1)
  const first = await revision()
  expect(await heartbeat(kv, key, 'b', 10_000)).toBe(2)
  const second = await revision()
  // Fresh: read, counted, not written.
  expect(await heartbeat(kv, key, 'a', 400)).toBe(2)
  expect(await revision()).toBe(second)
  expect(second).toBeGreaterThan(first ?? 0)
  await sleep(250)
  expect(await heartbeat(kv, key, 'a', 400)).toBe(2)
  expect(await revision()).toBeGreaterThan(second ?? 0)
})
