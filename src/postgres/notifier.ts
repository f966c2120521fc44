import pg from 'pg'
import type { ChangeSignal } from '../core/internal.js'
import type { Logger } from '../core/types.js'
import { quoteIdent } from './identifiers.js'

const RECONNECT_MIN_MS = 100
const RECONNECT_MAX_MS = 5_000

/**
 * One dedicated connection that LISTENs for appends from any process and wakes the subscriptions.
 * If the connection drops it reconnects by itself with backoff; notifications sent meanwhile are
 * lost, so after every (re)connect it wakes everyone once to look for what they missed.
 */
export class Notifier {
  #client: pg.Client | undefined
  #connecting: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined
  #delay = RECONNECT_MIN_MS
  #started = false
  #stopped = false

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly signal: ChangeSignal,
    private readonly logger: Logger | undefined,
    /** Given, it gets each notification's payload instead of `signal`; `signal` still fires after every (re)connect. */
    private readonly onPayload?: (payload: string) => void,
  ) {}

  /** Idempotent; the first call opens the connection. */
  start(): void {
    if (this.#started || this.#stopped) return
    this.#started = true
    this.#connecting = this.#connect()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#connecting
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionTimeoutMillis: 10_000, ...this.config, keepAlive: true })
    // Without an 'error' listener a dropped connection would crash the process.
    client.on('error', (error) => this.logger?.warn?.('eventfold: notification connection failed', { error }))
    client.on('notification', (message) => {
      if (message.channel !== this.channel) return
      if (this.onPayload === undefined) this.signal.notify()
      else this.onPayload(message.payload ?? '')
    })
    client.on('end', () => {
      if (this.#client !== client) return
      this.#client = undefined
      this.#retry()
    })
    try {
      await client.connect()
      await client.query(`LISTEN ${quoteIdent(this.channel)}`)
    } catch (error) {
      this.logger?.warn?.('eventfold: could not listen for notifications; retrying', { error, delayMs: this.#delay })
      client.end().catch(() => {})
      this.#retry()
      return
    }
    if (this.#stopped) {
      await client.end().catch(() => {})
      return
    }
    this.#client = client
    this.#delay = RECONNECT_MIN_MS
    this.signal.notify()
  }

  #retry() {
    if (this.#stopped) return
    const delay = this.#delay * (0.5 + Math.random() / 2)
    this.#delay = Math.min(this.#delay * 2, RECONNECT_MAX_MS)
    this.#timer = setTimeout(() => {
      this.#connecting = this.#connect()
    }, delay)
    // A pending reconnect alone must not keep the process alive.
    this.#timer.unref()
  }
}
