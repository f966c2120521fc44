import type { SchemaNames } from '../identifiers.js'
import * as sql from './sql.js'

interface Waiting {
  claim: sql.AckedClaim
  resolve: () => void
  reject: (error: unknown) => void
}

/**
 * Acknowledges one member's claims with at most one statement in flight: acks that come while one
 * is out go together in the next. A statement per ack held a connection each, so when commits
 * stalled (a slow disk) a full consumer's acks took every connection of the pool and its next claim
 * queued behind them; now they take one, and a stall makes the next batch bigger. The first ack
 * after a quiet spell goes at once, so batching adds no wait of its own. Each ack's promise settles
 * with the statement that carried it.
 */
export class Acks {
  #queued: Waiting[] = []
  #sending: Waiting[] = []

  constructor(
    private readonly send: (query: sql.Query) => Promise<void>,
    private readonly names: SchemaNames,
    private readonly group: string,
    private readonly owner: string,
    /** Told after each statement that deleted rows: later rows of their keys may be claimable now. */
    private readonly sent: () => void,
  ) {}

  ack(claim: sql.AckedClaim): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queued.push({ claim, resolve, reject })
      if (this.#sending.length === 0) void this.#drain()
    })
  }

  /** The rows acknowledged and not deleted yet: still claimed, so their claims must not lapse. */
  ids(): bigint[] {
    return [...this.#sending, ...this.#queued].map((w) => w.claim.id)
  }

  async #drain(): Promise<void> {
    while (this.#queued.length > 0) {
      const batch = this.#queued
      this.#sending = batch
      this.#queued = []
      try {
        await this.send(
          sql.ack(
            this.names,
            this.group,
            this.owner,
            batch.map((w) => w.claim),
          ),
        )
        for (const waiting of batch) waiting.resolve()
        this.sent()
      } catch (error) {
        for (const waiting of batch) waiting.reject(error)
      }
    }
    this.#sending = []
  }
}
