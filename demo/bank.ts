/**
 * The main job: a small bank on the embedded SQLite store.
 *
 * Write side: accounts are event-sourced streams handled by a decider. Many transfers run at once;
 * each is two commands (debit, then credit) through `handleCommand`, which retries when another
 * writer got to the account first, and which a command id makes idempotent.
 * Read side: an async projection keeps account summaries (documents) from the log, and the demo
 * shows read-your-writes: a command, `waitFor(position)`, then the summary already has it.
 * A live subscription keeps the bank's running total, and a temporal read shows an account as it was.
 * Messaging: a relay publishes money movements from the bank's log to a transport (in-memory, or
 * RabbitMQ when EVENTFOLD_AMQP_URL is set), and a second service with its own SQLite database keeps
 * a statement line per movement, through an idempotent inbox.
 */
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Transport } from '../src/index.js'
import {
  createAsyncProjection,
  createEventRelay,
  createInMemoryTransport,
  type Decider,
  defineProjection,
  type EventStore,
  handleCommand,
  isEventfoldError,
  type RecordedEvent,
  rejectCommand,
} from '../src/index.js'
import { createSqliteEventStore, createSqliteInbox } from '../src/sqlite/index.js'

type AccountEvent =
  | { type: 'Opened'; data: { owner: string; initial: number } }
  | { type: 'Debited'; data: { amount: number; transfer: string } }
  | { type: 'Credited'; data: { amount: number; transfer: string } }

type AccountCommand =
  | { type: 'Open'; owner: string; initial: number }
  | { type: 'Debit'; amount: number; transfer: string }
  | { type: 'Credit'; amount: number; transfer: string }

const ACCOUNTS = ['alice', 'bob', 'carol', 'dave', 'erin']
const TRANSFERS = 200
const CONCURRENCY = 16

const applyEvent = (balance: number, event: AccountEvent): number =>
  event.type === 'Opened'
    ? balance + event.data.initial
    : event.type === 'Debited'
      ? balance - event.data.amount
      : balance + event.data.amount

/** The write side of an account: balance as state, overdrafts refused. */
const account: Decider<{ open: boolean; balance: number }, AccountCommand, AccountEvent> = {
  name: 'account',
  initialState: () => ({ open: false, balance: 0 }),
  decide(command, state) {
    if (command.type === 'Open') {
      if (state.open) rejectCommand('account already open')
      return { type: 'Opened', data: { owner: command.owner, initial: command.initial } }
    }
    if (!state.open) rejectCommand('no such account')
    if (command.type === 'Debit' && state.balance < command.amount) rejectCommand('insufficient funds')
    return {
      type: command.type === 'Debit' ? 'Debited' : 'Credited',
      data: { amount: command.amount, transfer: command.transfer },
    }
  },
  evolve: (state, event) => ({ open: true, balance: applyEvent(state.balance, event) }),
  snapshot: { every: 50 },
}

interface Summary {
  owner: string
  balance: number
  transfersIn: number
  transfersOut: number
}

/** The read side: one summary document per account, kept by an async projection. */
const summaries = defineProjection({
  name: 'account-summaries',
  filter: { streamPrefix: 'account-' },
  async handle(events: RecordedEvent[], { documents }) {
    const accounts = documents<Summary>('accounts')
    for (const recorded of events) {
      const event = recorded as unknown as AccountEvent
      const id = recorded.streamId.slice('account-'.length)
      const summary = (await accounts.get(id)) ?? { owner: id, balance: 0, transfersIn: 0, transfersOut: 0 }
      summary.balance = applyEvent(summary.balance, event)
      if (event.type === 'Debited') summary.transfersOut++
      if (event.type === 'Credited') summary.transfersIn++
      await accounts.upsert(id, summary)
    }
  },
})

const stats = { rejected: 0, completed: 0 }
const money = { initialState: () => 0, evolve: (total: number, e: RecordedEvent) => applyEvent(total, e as never) }

async function transfer(store: EventStore, id: string, from: string, to: string, amount: number) {
  try {
    await handleCommand(store, `account-${from}`, { type: 'Debit', amount, transfer: id }, account, {
      commandId: `${id}:debit`,
      retries: 50,
    })
  } catch (error) {
    if (!isEventfoldError(error, 'COMMAND_REJECTED')) throw error
    stats.rejected++
    return
  }
  const credit = { type: 'Credit', amount, transfer: id } as const
  // Handled twice on purpose, as a client retrying after a timeout would: the id makes it count once.
  for (let i = 0; i < 2; i++)
    await handleCommand(store, `account-${to}`, credit, account, { commandId: `${id}:credit`, retries: 50 })
  stats.completed++
}

/** The broker between the two services: RabbitMQ when a URL is given, else in this process. */
async function openTransport(): Promise<{ transport: Transport; name: string }> {
  const url = process.env.EVENTFOLD_AMQP_URL
  if (url === undefined || url === '') return { transport: createInMemoryTransport({ source: 'bank' }), name: 'in-memory' }
  const { createRabbitMqTransport } = await import('../src/rabbitmq/index.js')
  return { transport: await createRabbitMqTransport({ url, prefix: 'eventfold-demo', source: 'bank' }), name: 'RabbitMQ' }
}

/** The second service: statement lines in its own database, each movement applied once. */
async function startStatements(transport: Transport, path: string) {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true })
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE statement (message_id TEXT PRIMARY KEY, account TEXT NOT NULL, amount INTEGER NOT NULL)')
  const inbox = createSqliteInbox({ db })
  inbox.migrate()
  const add = db.prepare('INSERT INTO statement (message_id, account, amount) VALUES (?, ?, ?)')
  const consumer = await transport.subscribe({
    group: 'statements',
    types: ['MoneyMoved'],
    handler: inbox.wrap('statements', (message) => {
      const { account, amount } = message.data as { account: string; amount: number }
      add.run(message.id, account, amount)
    }),
  })
  return {
    lines: () => (db.prepare('SELECT count(*) AS n FROM statement').get() as { n: number }).n,
    net: () => (db.prepare('SELECT coalesce(sum(amount), 0) AS n FROM statement').get() as { n: number }).n,
    close: async () => {
      await consumer.stop()
      db.close()
    },
  }
}

async function main() {
  const dir = join(process.cwd(), '.tmp')
  mkdirSync(dir, { recursive: true })
  const path = join(dir, 'bank.db')
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true })

  const store = createSqliteEventStore({ path })
  await store.migrate()
  const projection = createAsyncProjection({ store, projection: summaries })
  await projection.start()
  const { transport, name: transportName } = await openTransport()
  const statements = await startStatements(transport, join(dir, 'statements.db'))
  const relay = createEventRelay({
    store,
    transport,
    name: 'bank-out',
    filter: { eventTypes: ['Debited', 'Credited'] },
    map: (event) => {
      const { amount } = event.data as { amount: number }
      const account = event.streamId.slice('account-'.length)
      return { type: 'MoneyMoved', data: { account, amount: event.type === 'Debited' ? -amount : amount } }
    },
  })
  await relay.start()

  let runningTotal = 0
  let eventsSeen = 0
  const ledger = store.subscribeToAll({
    from: 'start',
    filter: { streamPrefix: 'account-' },
    handler(event) {
      eventsSeen++
      runningTotal = money.evolve(runningTotal, event)
    },
  })

  for (const owner of ACCOUNTS) {
    await handleCommand(store, `account-${owner}`, { type: 'Open', owner, initial: 1000 }, account)
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
  const accountEvents = all.filter((e) => e.streamId.startsWith('account-'))
  while (eventsSeen < accountEvents.length) await new Promise((resolve) => setTimeout(resolve, 5))

  console.log('eventfold demo: a bank on the embedded SQLite store\n')
  console.log(`${TRANSFERS} transfers by ${CONCURRENCY} concurrent workers in ${elapsed} ms, as commands through handleCommand`)
  console.log(`  completed ${stats.completed}, refused by the decider (insufficient funds) ${stats.rejected}`)
  console.log('  every credit was handled twice with the same command id, and appended once')
  console.log(`  events in the log: ${all.length} (positions ${all[0]?.position} to ${all.at(-1)?.position})\n`)

  // Read-your-writes: one more command, then wait for the projection to pass its position.
  const { position } = await handleCommand(store, 'account-alice', { type: 'Credit', amount: 1, transfer: 'bonus' }, account)
  await projection.waitFor(position)
  const alice = await projection.documents<Summary>('accounts').get('alice')
  console.log(`Read-your-writes: credited alice 1 at position ${position}; her summary already shows balance ${alice?.balance}\n`)

  console.log('Accounts: folded from each stream (write side) and from the projection (read side)')
  let sum = 0
  let mismatches = 0
  for (const owner of ACCOUNTS) {
    const { state, revision } = await store.aggregateStream(`account-${owner}`, money)
    const summary = await projection.documents<Summary>('accounts').get(owner)
    sum += state
    if (summary?.balance !== state) mismatches++
    const flows = `in ${summary?.transfersIn}, out ${summary?.transfersOut}`
    console.log(
      `  ${owner.padEnd(6)} ${String(state).padStart(6)}   read model ${String(summary?.balance).padStart(6)}   (${flows}, revision ${revision})`,
    )
  }
  console.log(`  total  ${String(sum).padStart(6)}\n`)

  while (eventsSeen < accountEvents.length + 1) await new Promise((resolve) => setTimeout(resolve, 5))
  console.log(`Live subscription's running total: ${runningTotal} over ${eventsSeen} events`)
  const asOf = await store.aggregateStream('account-alice', { ...money, upTo: { revision: 3n } })
  const now = await store.aggregateStream('account-alice', money)
  console.log(`Temporal read: alice had ${asOf.state} at revision 3, has ${now.state} now (revision ${now.revision})`)
  const lag = projection.stats()
  console.log(
    `Projection stats: ${lag.handled} events handled, lag ${lag.lagEvents} events, p99 ${lag.processingMs.p99.toFixed(2)} ms per event`,
  )

  const movements = all.filter((e) => e.type === 'Debited' || e.type === 'Credited').length + 1
  while (statements.lines() < movements) await new Promise((resolve) => setTimeout(resolve, 10))
  const statementNet = statements.net()
  console.log(
    `Statements service (own SQLite file, via ${transportName} and an inbox): ${statements.lines()} lines for ${movements} movements, net ${statementNet}`,
  )

  await ledger.stop()
  await relay.stop()
  await statements.close()
  await transport.close()
  await projection.stop()
  await store.close()

  const expected = ACCOUNTS.length * 1000 + 1
  if (sum !== expected || runningTotal !== expected || mismatches > 0 || statementNet !== 1) {
    console.error(
      `Books do not balance: streams ${sum}, subscription ${runningTotal}, read model mismatches ${mismatches}, expected ${expected}`,
    )
    process.exit(1)
  }
  console.log(`\nMoney conserved: ${expected - 1} in (+1 bonus), ${sum} out; the read model agrees. Database: ${path}`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
