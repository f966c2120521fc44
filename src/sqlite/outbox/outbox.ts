import { randomUUID } from 'node:crypto'
import type { Database } from 'better-sqlite3'
import { InvalidInputError } from '../../core/internal.js'
import type { Logger } from '../../core/types.js'
import type { OutgoingMessage } from '../../messaging/envelope.js'
import {
  type OutboxClaim,
  type OutboxRelay,
  OutboxRelayLoop,
  type OutboxRelayOptions,
  type OutboxStorage,
} from '../../messaging/outbox/relay.js'
import { fromOutboxRow, outboxRows } from '../../messaging/outbox/rows.js'
import type { MessageHandler, ReceivedMessage } from '../../messaging/types.js'
import { migrateMessaging } from './migrations.js'

export interface SqliteOutboxOptions {
  /** The service's own database (better-sqlite3), where its state and the outbox live together. */
  db: Database
  source?: string
  /** How long a relay's lease lasts without renewal. Default 10,000 ms. */
  leaseMs?: number
  logger?: Logger
}

/**
 * The transactional outbox on SQLite: `enqueue` inside the service's own transaction, a relay
 * publishes in order. One relay at a time holds the outbox (a lease); others wait to take over.
 *
 * @example
 * const outbox = createSqliteOutbox({ db })
 * outbox.migrate()
 * db.transaction(() => {
 *   db.prepare('UPDATE orders SET status = ? WHERE id = ?').run('placed', id)
 *   outbox.enqueue([{ type: 'OrderPlaced', data: { id }, partitionKey: id }])
 * })()
 */
export class SqliteOutbox {
  readonly #db: Database
  readonly #options: SqliteOutboxOptions

  constructor(options: SqliteOutboxOptions) {
    if (typeof options?.db?.prepare !== 'function') {
      throw new InvalidInputError('INVALID_ARGUMENT', 'db must be a better-sqlite3 Database', 'db')
    }
    this.#db = options.db
    this.#options = options
  }

  migrate(): void {
    migrateMessaging(this.#db)
  }

  /** Adds messages in the current transaction of the outbox's database; returns their ids. */
  enqueue(messages: readonly OutgoingMessage[]): string[] {
    const rows = outboxRows(messages, this.#options.source ?? 'eventfold')
    const insert = this.#db.prepare(
      'INSERT INTO eventfold_outbox (message_id, partition_key, message, created_at) VALUES (?, ?, ?, ?)',
    )
    const now = Date.now()
    this.#db.transaction(() => {
      for (const row of rows) insert.run(row.id, row.key, row.event, now)
    })()
    return rows.map((row) => row.id)
  }

  relay(options: OutboxRelayOptions & { name?: string }): OutboxRelay {
    const storage = new SqliteOutboxStorage(this.#db, options.name ?? 'default', this.#options.leaseMs ?? 10_000)
    return new OutboxRelayLoop(storage, { logger: this.#options.logger, pollIntervalMs: 100, ...options })
  }
}

class SqliteOutboxStorage implements OutboxStorage {
  readonly #owner = randomUUID()

  constructor(
    private readonly db: Database,
    private readonly name: string,
    private readonly leaseMs: number,
  ) {}

  /** Takes or renews the relay lease; false while another relay holds it. */
  #lease(): boolean {
    const now = Date.now()
    const taken = this.db
      .prepare(
        `INSERT INTO eventfold_outbox_lease (name, owner, lease_until) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
         WHERE eventfold_outbox_lease.owner = excluded.owner OR eventfold_outbox_lease.lease_until < ?`,
      )
      .run(this.name, this.#owner, now + this.leaseMs, now)
    return taken.changes > 0
  }

  async claim(limit: number): Promise<OutboxClaim | undefined> {
    if (!this.db.transaction(() => this.#lease()).immediate()) return undefined
    const rows = this.db
      .prepare('SELECT seq, message FROM eventfold_outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?')
      .all(limit) as { seq: number; message: string }[]
    if (rows.length === 0) return undefined
    return {
      messages: rows.map((row) => fromOutboxRow(row.message)),
      done: async () => {
        // Marked only while still the lease holder: a relay that lost it must not mark what another resent.
        this.db
          .transaction(() => {
            if (!this.#lease()) return
            const mark = this.db.prepare('UPDATE eventfold_outbox SET sent_at = ? WHERE seq = ?')
            const now = Date.now()
            for (const row of rows) mark.run(now, row.seq)
          })
          .immediate()
      },
      abandon: async () => {},
    }
  }

  async cleanup(retentionMs: number): Promise<number> {
    return this.db.prepare('DELETE FROM eventfold_outbox WHERE sent_at IS NOT NULL AND sent_at < ?').run(Date.now() - retentionMs)
      .changes
  }

  // No cross-process wake-up in SQLite: the relay polls (every 100 ms by default).
  wait(timeoutMs: number, abort: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs)
      function done() {
        clearTimeout(timer)
        abort.removeEventListener('abort', done)
        resolve()
      }
      abort.addEventListener('abort', done, { once: true })
    })
  }
}

export interface SqliteInboxOptions {
  db: Database
  /** How long handled ids are remembered; must exceed the broker's redelivery window. Default 7 days. */
  retentionMs?: number
}

/**
 * The idempotent inbox on SQLite: `work` runs in one transaction with the record of the message id,
 * and a copy of an already handled message is skipped. better-sqlite3 is synchronous, so `work` is too.
 */
export class SqliteInbox {
  readonly #db: Database
  readonly #retentionMs: number

  constructor(options: SqliteInboxOptions) {
    if (typeof options?.db?.prepare !== 'function') {
      throw new InvalidInputError('INVALID_ARGUMENT', 'db must be a better-sqlite3 Database', 'db')
    }
    this.#db = options.db
    this.#retentionMs = options.retentionMs ?? 7 * 86_400_000
  }

  migrate(): void {
    migrateMessaging(this.#db)
  }

  handle<T>(consumer: string, message: { id: string }, work: (db: Database) => T): { duplicate: boolean; result?: T } {
    if (typeof consumer !== 'string' || consumer === '') {
      throw new InvalidInputError('INVALID_ARGUMENT', 'consumer must be a non-empty string', 'consumer')
    }
    return this.#db
      .transaction(() => {
        const fresh = this.#db
          .prepare('INSERT OR IGNORE INTO eventfold_inbox (consumer, message_id, received_at) VALUES (?, ?, ?)')
          .run(consumer, message.id, Date.now())
        if (fresh.changes === 0) return { duplicate: true }
        return { duplicate: false, result: work(this.#db) }
      })
      .immediate()
  }

  wrap(consumer: string, handler: (message: ReceivedMessage, db: Database) => void): MessageHandler {
    return async (message) => {
      this.handle(consumer, message, (db) => handler(message, db))
    }
  }

  cleanup(): number {
    return this.#db.prepare('DELETE FROM eventfold_inbox WHERE received_at < ?').run(Date.now() - this.#retentionMs).changes
  }
}

export const createSqliteOutbox = (options: SqliteOutboxOptions) => new SqliteOutbox(options)
export const createSqliteInbox = (options: SqliteInboxOptions) => new SqliteInbox(options)
