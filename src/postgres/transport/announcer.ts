import type { Logger } from '../../core/types.js'
import type { SchemaNames } from '../identifiers.js'
import type { Db } from './db.js'
import * as sql from './sql.js'

/**
 * Tells every process's consumers which groups got messages, once the publishing transaction has
 * committed. One notification is in flight at a time, and the groups of every publish that commits
 * meanwhile ride on the next one: a transaction that notifies holds a database-wide lock through
 * its commit, so notifying from each publish would make concurrent publishers commit in turn.
 * A notification that is lost (an error, the process dying after the commit) costs latency, never
 * a message: consumers also look every poll interval.
 *
 * Under a steady stream of publishes, notifications also keep `MIN_GAP_MS` apart: each is a round
 * trip that cost a busy publisher a fifth of its throughput. Only an idle consumer elsewhere waits
 * for them (a busy one claims again whenever a handler finishes), and it waits at most that long
 * more; a publish after a quiet spell is announced at once.
 */
export const MIN_GAP_MS = 5

export class Announcer {
  #groups = new Set<string>()
  #sending: Promise<void> | undefined
  #lastSentAt = Number.NEGATIVE_INFINITY

  constructor(
    private readonly db: Db,
    private readonly names: SchemaNames,
    /** This process's consumers hear at once, without the round trip through the server. */
    private readonly local: (groups: ReadonlySet<string>) => void,
    private readonly logger: Logger | undefined,
  ) {}

  announce(groups: readonly string[]): void {
    if (groups.length === 0) return
    this.local(new Set(groups))
    for (const group of groups) this.#groups.add(group)
    this.#sending ??= this.#send()
  }

  /** Resolves once every announcement made so far was sent or given up. */
  async flushed(): Promise<void> {
    await this.#sending
  }

  #gapLeft(): number {
    return this.#lastSentAt + MIN_GAP_MS - performance.now()
  }

  async #send(): Promise<void> {
    while (this.#groups.size > 0) {
      // A timer may fire a fraction of a millisecond early: look again rather than trust it.
      for (let wait = this.#gapLeft(); wait > 0; wait = this.#gapLeft()) {
        await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)))
      }
      this.#lastSentAt = performance.now()
      const groups = this.#groups
      this.#groups = new Set()
      try {
        await this.db.query(sql.notify(this.names, groups))
      } catch (error) {
        this.logger?.warn?.('eventfold: could not notify consumers; they will find the messages by polling', { error })
      }
    }
    this.#sending = undefined
  }
}
