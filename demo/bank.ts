/**
 * The main job, for now: a small bank on the embedded SQLite store.
 *
 * Accounts are event-sourced streams. Many transfers run at once, each a read → decide → append
 * with an expected revision; when two touch the same account one loses, re-reads and retries.
 * A live subscription keeps the bank's running total from the global log, and a temporal read
 * shows an account's balance as it was at an earlier revision.
 */
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { type EventStore, isEventfoldError, type RecordedEvent } from '../src/index.js'
import { createSqliteEventStore } from '../src/sqlite/index.js'

type AccountEvent =
  | { type: 'Opened'; data: { owner: string; initial: number } }
  | { type: 'Debited'; data: { amount: number; transfer: string } }
  | { type: 'Credited'; data: { amount: number; transfer: string } }

const ACCOUNTS = ['alice', 'bob', 'carol', 'dave', 'erin']
const TRANSFERS = 200
const CONCURRENCY = 16

const balance = {
  initialState: () => 0,
  evolve(total: number, event: RecordedEvent): number {
    const e = event as unknown as AccountEvent
    if (e.type === 'Opened') return total + e.data.initial
    if (e.type === 'Debited') return total - e.data.amount
    return total + e.data.amount
  },
}

const stats = { conflictsRetried: 0, rejected: 0, completed: 0 }
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Read → decide → append, retried on a concurrency conflict. Returns false when the decision says no. */
async function execute(
  store: EventStore,
  account: string,
  decide: (balance: number) => AccountEvent | undefined,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const { state, revision } = await store.aggregateStream(`account-${account}`, balance)
    await pause(Math.random() * 3) // business logic takes time: that is when others write
    const event = decide(state)
    if (event === undefined) return false
    try {
      await store.appendToStream(`account-${account}`, [event], { expectedRevision: revision ?? 'no_stream' })
      return true
    } catch (error) {
      if (!isEventfoldError(error, 'WRONG_EXPECTED_REVISION') || attempt === 50) throw error
      stats.conflictsRetried++
      await pause(Math.random() * attempt * 2)
    }
  }
}

async function transfer(store: EventStore, id: string, from: string, to: string, amount: number) {
  const debited = await execute(store, from, (available) =>
    available >= amount ? { type: 'Debited', data: { amount, transfer: id } } : undefined,
  )
  if (!debited) {
    stats.rejected++
    return
  }
  await execute(store, to, () => ({ type: 'Credited', data: { amount, transfer: id } }))
  stats.completed++
}

async function main() {
  const dir = join(process.cwd(), '.tmp')
  mkdirSync(dir, { recursive: true })
  const path = join(dir, 'bank.db')
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true })

  const store = createSqliteEventStore({ path })
  await store.migrate()

  let runningTotal = 0
  let eventsSeen = 0
  const ledger = store.subscribeToAll({
    from: 'start',
    filter: { streamPrefix: 'account-' },
    handler(event) {
      eventsSeen++
      runningTotal = balance.evolve(runningTotal, event)
    },
  })

  for (const owner of ACCOUNTS) {
    await store.appendToStream(`account-${owner}`, [{ type: 'Opened', data: { owner, initial: 1000 } }], {
      expectedRevision: 'no_stream',
    })
  }

  const started = Date.now()
  let next = 0
  const worker = async () => {
    while (next < TRANSFERS) {
      const n = next++
      const from = ACCOUNTS[n % ACCOUNTS.length] as string
      const to = ACCOUNTS[(n + 1 + ((n * 3) % 4)) % ACCOUNTS.length] as string
      await transfer(store, `t-${n}`, from, to, 50 + ((n * 37) % 300))
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const elapsed = Date.now() - started

  const all: RecordedEvent[] = []
  for await (const e of store.readAll()) all.push(e)
  while (eventsSeen < all.length) await pause(5)

  console.log('eventfold demo: a bank on the embedded SQLite store\n')
  console.log(`${TRANSFERS} transfers requested by ${CONCURRENCY} concurrent workers in ${elapsed} ms`)
  console.log(`  completed ${stats.completed}, rejected for insufficient funds ${stats.rejected}`)
  console.log(`  optimistic-concurrency conflicts detected and retried: ${stats.conflictsRetried}`)
  console.log(`  events in the log: ${all.length} (positions ${all[0]?.position} to ${all.at(-1)?.position})\n`)

  console.log('Balances (folded from each stream):')
  let sum = 0
  for (const owner of ACCOUNTS) {
    const { state, revision } = await store.aggregateStream(`account-${owner}`, balance)
    sum += state
    console.log(`  ${owner.padEnd(6)} ${String(state).padStart(6)}   (revision ${revision})`)
  }
  console.log(`  total  ${String(sum).padStart(6)}\n`)

  console.log(`Live subscription's running total: ${runningTotal} over ${eventsSeen} events`)
  const asOf = await store.aggregateStream('account-alice', { ...balance, upTo: { revision: 3n } })
  const now = await store.aggregateStream('account-alice', balance)
  console.log(`Temporal read: alice had ${asOf.state} at revision 3, has ${now.state} now (revision ${now.revision})`)

  await ledger.stop()
  await store.close()

  const expected = ACCOUNTS.length * 1000
  if (sum !== expected || runningTotal !== expected) {
    console.error(
      `Money was created or destroyed: balances sum to ${sum}, subscription saw ${runningTotal}, expected ${expected}`,
    )
    process.exit(1)
  }
  console.log(`\nMoney conserved: ${expected} in, ${sum} out. Database: ${path}`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
