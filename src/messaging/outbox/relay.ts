import { InvalidInputError } from '../../core/errors.js'
import { positiveInteger } from '../../core/numbers.js'
import { sleep } from '../../core/timing.js'
import type { Logger } from '../../core/types.js'
import type { OutgoingMessage } from '../envelope.js'
import { retryDelayMs } from '../retry.js'
import type { Transport } from '../types.js'

/** Messages taken from an outbox table, held until they are published or given back. */
export interface OutboxClaim {
  readonly messages: OutgoingMessage[]
  /** Marks them sent (they were published and confirmed). */
  done(): Promise<void>
  /** Gives them back unsent, for the next attempt (here or in another relay). */
  abandon(): Promise<void>
}

/** What a relay needs of an outbox table; each database implements it. */
export interface OutboxStorage {
  /** The oldest unsent messages this relay may publish now, in order within each partition key. */
  claim(limit: number): Promise<OutboxClaim | undefined>
  /** Deletes sent messages older than `retentionMs`; returns how many. */
  cleanup(retentionMs: number): Promise<number>
  /** Resolves when new messages may be there, after `timeoutMs` at the latest, or on abort. */
  wait(timeoutMs: number, abort: AbortSignal): Promise<void>
}

export interface OutboxRelayOptions {
  transport: Transport
  /** Most messages per claim and publish. Default 200. */
  batchSize?: number
  /** Longest wait between looks when nothing wakes the relay. Default 500 ms. */
  pollIntervalMs?: number
  /** How long sent messages are kept (for inspection) before cleanup deletes them. Default 24 h. */
  retentionMs?: number
  logger?: Logger
}

export interface OutboxRelayStats {
  published: number
  failures: number
  cleanedUp: number
  running: boolean
}

export interface OutboxRelay {
  start(): Promise<void>
  /** Finishes the batch in hand and stops. */
  stop(): Promise<void>
  stats(): OutboxRelayStats
}

const CLEANUP_EVERY_MS = 60_000
const BACKOFF = { maxAttempts: Number.POSITIVE_INFINITY, initialDelayMs: 100, maxDelayMs: 10_000, jitter: true }

/**
 * Publishes what an outbox holds: claim a batch, publish it (confirmed), mark it sent. A crash
 * between publish and mark publishes the batch again: at least once, with the same message ids,
 * which an inbox turns into exactly once in effect.
 */
export class OutboxRelayLoop implements OutboxRelay {
  readonly #storage: OutboxStorage
  readonly #options: Required<Omit<OutboxRelayOptions, 'logger'>> & { logger?: Logger }
  readonly #stats: OutboxRelayStats = { published: 0, failures: 0, cleanedUp: 0, running: false }
  #abort = new AbortController()
  #loop: Promise<void> | undefined

  constructor(storage: OutboxStorage, options: OutboxRelayOptions) {
    if (typeof options?.transport?.publish !== 'function') {
      throw new InvalidInputError('INVALID_ARGUMENT', 'transport must be a Transport', 'transport')
    }
    this.#storage = storage
    this.#options = { batchSize: 200, pollIntervalMs: 500, retentionMs: 24 * 3_600_000, ...options }
    for (const field of ['batchSize', 'pollIntervalMs', 'retentionMs'] as const) positiveInteger(this.#options[field], field)
  }

  async start(): Promise<void> {
    if (this.#loop !== undefined) return
    this.#abort = new AbortController()
    this.#stats.running = true
    this.#loop = this.#run()
  }

  async stop(): Promise<void> {
    this.#abort.abort()
    await this.#loop
    this.#loop = undefined
    this.#stats.running = false
  }

  stats(): OutboxRelayStats {
    return { ...this.#stats }
  }

  async #run(): Promise<void> {
    let failures = 0
    let nextCleanup = 0
    const signal = this.#abort.signal
    while (!signal.aborted) {
      try {
        if (Date.now() >= nextCleanup) {
          this.#stats.cleanedUp += await this.#storage.cleanup(this.#options.retentionMs)
          nextCleanup = Date.now() + CLEANUP_EVERY_MS
        }
        const published = await this.#relayOnce()
        failures = 0
        if (published === 0) await this.#storage.wait(this.#options.pollIntervalMs, signal)
      } catch (error) {
        this.#stats.failures++
        this.#options.logger?.warn?.('eventfold: outbox relay failed; retrying', { error })
        await sleep(retryDelayMs(BACKOFF, ++failures), signal)
      }
    }
  }

  async #relayOnce(): Promise<number> {
    const claim = await this.#storage.claim(this.#options.batchSize)
    if (claim === undefined) return 0
    try {
      await this.#options.transport.publish(claim.messages)
    } catch (error) {
      await claim.abandon().catch(() => {})
      throw error
    }
    await claim.done()
    this.#stats.published += claim.messages.length
    return claim.messages.length
  }
}
