import type { ConsumerInfo } from '@nats-io/jetstream'
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import { sleep } from '../core/timing.js'
import type { Logger } from '../core/types.js'
import { Delivery } from './delivery.js'

/** Where a shard's messages come from: its group's durable consumer. */
export interface ShardSource {
  nc: NatsConnection
  /** The consumer's pull request subject. */
  pullSubject: string
  info(): Promise<ConsumerInfo>
}

export interface ShardReaderDeps {
  /** How many more messages this member wants now (it counts what waits in all its shards). */
  room(): number
  /** No room now: `wake` this reader once there is. */
  starved(reader: ShardReader): void
  /** Messages that may run, in stream order. */
  ready(reader: ShardReader, messages: Delivery[]): void
  /** Sends the acknowledgement (the member sends those of all its shards together). */
  ack(msg: Delivery): void
  logger: Logger | undefined
}

interface Unacked {
  msg: Delivery
  /** The delivery sequence it first reached this member with. */
  dseq: number
}

/**
 * How long a pull stays open on the server. Long, because every pull is a request the server
 * handles whether or not anything comes: with 2 s pulls an idle group's 16 shards asked 9 times a
 * second per member, for ever. What a short pull also gave, noticing soon that a pull was lost,
 * comes from the heartbeats and from asking again at once after a reconnect.
 */
export const PULL_EXPIRES_MS = 30_000
/**
 * When the next pull goes out, the open one still running: a shard always has a pull waiting on
 * the server, and no message waits for the end of one to be noticed. Noticing it was the weak
 * spot: the server's 408 for an expired pull did not always reach us (none comes for a pull lost
 * with the connection, and in a latency bench on server 2.9.10 a shard's messages published after
 * its pull expired arrived only when our fallback timer ran out, a second later, then 100 ms: the
 * NATS p99 outliers). The two overlap for the rest of the old one's time; what either brings is taken.
 */
export const PULL_RENEW_MS = PULL_EXPIRES_MS - 250
/** The server says so this often while an open pull has nothing to deliver. */
export const PULL_HEARTBEAT_MS = 5_000
/**
 * Nothing heard on the open pull for this long (no delivery, no heartbeat): the server no longer
 * has it (restarted without us seeing the connection drop, its consumer's leader moved): ask again.
 */
export const PULL_SILENCE_MS = PULL_HEARTBEAT_MS * 2
const MAX_BATCH = 256
/** How often a held-back shard asks its consumer whether every pending message is ours yet. */
const CHECK_MS = 100
/** After a refusal (too many pulls waiting, consumer missing): wait before asking again. */
const REFUSED_MS = 200
const NANOS_PER_MS = 1_000_000

/** A pull of up to `batch` messages, as the consumer's `MSG.NEXT` API takes it. */
export function pullRequest(batch: number, expiresMs = PULL_EXPIRES_MS, heartbeatMs = PULL_HEARTBEAT_MS): string {
  return JSON.stringify({ batch, expires: expiresMs * NANOS_PER_MS, idle_heartbeat: heartbeatMs * NANOS_PER_MS })
}

/**
 * This member's reading of one shard it holds the lease of: pulls in batches and passes on what may
 * run. Why it holds messages back: JetStream redelivers a message only after its ack wait, by
 * then possibly behind later messages of its key already delivered. That happens to the messages a
 * previous holder died with, and to any delivery this member never received (cut connection, a
 * pull of another member still open when the lease moved). So a message may only run once every
 * message pending on the consumer is in this member's hands, and it then runs in stream order.
 *
 * How that is known, with no list of pending messages in the API: every delivery, redeliveries
 * included, gets the next delivery sequence. After a snapshot of the consumer (`num_ack_pending` P,
 * last delivery sequence D), let M be the messages we hold unacknowledged that reached us by
 * delivery ≤ D. Each was pending at the snapshot (we acked none of them), so if P ≤ |M| they were
 * all of it: nothing older is elsewhere. Deliveries after the snapshot must then reach us as
 * D+1, D+2… without a gap; a gap means one went elsewhere, and we hold back again. Every race errs
 * on waiting: a message in flight to us, or an acknowledgement not yet processed, counts in P and
 * not in M. The one thing that defeats it is another member acknowledging a message we also hold
 * (a stalled process resuming after its lease ran out and ours began): order is then as good as
 * any lease, as on Redis.
 */
export class ShardReader {
  readonly #unacked = new Map<number, Unacked>()
  /** Received while held back; undefined once the shard runs freely. */
  #waiting: Delivery[] | undefined = []
  #receivedWhileWaiting: number[] = []
  #nextDseq = 0
  #checking = false
  #active = true
  /** Messages the current pull may still bring; 0 when none is open. */
  #asked = 0
  /** Pulls sent so far: each one's statuses come to `<inbox>.<its number>`. */
  #pulls = 0
  /** Where the current pull's statuses come. */
  #currentReply = ''
  #pullTimer: NodeJS.Timeout | undefined
  /** Something came for the open pull since the last silence check (a flag, not a clock read per message). */
  #heard = false
  readonly #silenceTimer: NodeJS.Timeout
  readonly #inbox = createInbox()
  /**
   * One subscription for the whole hold, not one per pull: a pull answered after the client gave
   * up on it (the library's fetch does, on missed heartbeats under load) would otherwise deliver
   * into nothing, and the message would come back only after the ack wait, holding the shard back.
   */
  readonly #sub: Subscription
  #drained: Promise<void> | undefined

  constructor(
    readonly shard: number,
    private readonly source: ShardSource,
    private readonly deps: ShardReaderDeps,
  ) {
    this.#sub = source.nc.subscribe(`${this.#inbox}.*`, { callback: (error, msg) => this.#onMessage(error, msg) })
    void this.#check()
    this.#pull()
    this.#silenceTimer = setInterval(() => this.#checkSilence(), PULL_SILENCE_MS)
  }

  /** False once let go of (released, lost, stopped): what arrives then goes back to JetStream. */
  get active(): boolean {
    return this.#active
  }

  /** Messages received but held back. */
  get waitingCount(): number {
    return this.#waiting?.length ?? 0
  }

  /** Keeps every message in hand ours, however long it waits or runs. */
  keepAlive(): void {
    for (const { msg } of this.#unacked.values()) msg.working()
  }

  /** False once acknowledged or given back. */
  holds(msg: Delivery): boolean {
    return this.#unacked.has(msg.seq)
  }

  /** Acknowledges, unless the message was given back meanwhile (abandoned). */
  ack(msg: Delivery): void {
    if (this.#unacked.delete(msg.seq)) this.deps.ack(msg)
  }

  /** Gives the message back for the next holder of the shard (or for us, later, in order). */
  nak(msg: Delivery): void {
    if (this.#unacked.delete(msg.seq)) msg.nak()
  }

  /**
   * Stops reading and gives back what waits here; resolves once no pull of ours can deliver any
   * more, so the next holder's deliveries will not have a gap.
   */
  async deactivate(): Promise<void> {
    if (this.#active) {
      this.#active = false
      clearTimeout(this.#pullTimer)
      clearInterval(this.#silenceTimer)
      const waiting = this.#waiting ?? []
      this.#waiting = []
      for (const msg of waiting) this.nak(msg)
      // Unsubscribes, then waits for what the server sent before it saw that (given back as it
      // comes); pulls still open on the server lose their interest and deliver nothing more.
      this.#drained = this.#sub.drain().catch((error: Error) => {
        this.deps.logger?.debug?.('nats unsubscribe failed', { shard: this.shard, error: error.message })
      })
    }
    await this.#drained
  }

  /** Asks for more now if it waited for room. */
  wake(): void {
    this.#pull()
  }

  /** Asks again now, whatever is open: after a reconnect the server may have lost every pull of ours. */
  repull(): void {
    if (this.#active) this.#pullEnds(0)
  }

  #checkSilence(): void {
    if (this.#asked > 0 && !this.#heard) {
      this.deps.logger?.debug?.('nats pull went silent; asking again', { shard: this.shard })
      this.#pullEnds(0)
    }
    this.#heard = false
  }

  /** One pull open at a time, asking for as much as the member has room for. */
  #pull(): void {
    if (!this.#active || this.#asked > 0) return
    // Held back, it reads on whatever the room: the redeliveries it waits for must come in (the
    // consumer's max_ack_pending bounds the rest).
    const batch = this.#waiting === undefined ? Math.min(this.deps.room(), MAX_BATCH) : MAX_BATCH
    if (batch <= 0) {
      this.deps.starved(this)
      return
    }
    this.#asked = batch
    this.#currentReply = `${this.#inbox}.${++this.#pulls}`
    const request = pullRequest(batch)
    // A pull just sent counts as heard until the next check: its first heartbeat comes in one interval.
    this.#heard = true
    try {
      this.source.nc.publish(this.source.pullSubject, request, { reply: this.#currentReply })
    } catch (error) {
      // Closing, or the connection is down for good: ask again shortly if still reading.
      this.deps.logger?.debug?.('nats pull failed', { shard: this.shard, error: (error as Error).message })
    }
    this.#pullEnds(PULL_RENEW_MS)
  }

  /** Forgets the current pull after `ms` (about to expire, refused or ended) and asks again. */
  #pullEnds(ms: number): void {
    clearTimeout(this.#pullTimer)
    if (ms > 0) {
      this.#pullTimer = setTimeout(() => this.#pullEnds(0), ms)
      return
    }
    this.#asked = 0
    this.#pull()
  }

  #onMessage(error: Error | null, msg: Msg): void {
    if (error !== null) {
      this.deps.logger?.debug?.('nats subscription error', { error: error.message })
      return
    }
    if (!Delivery.isDelivery(msg)) {
      // A status, on the subject of its pull: 100, a heartbeat of one still open; 408 ends one that
      // expired; others refuse it (too many pulls waiting, no consumer). An earlier pull's end
      // leaves the current one open.
      if (msg.subject !== this.#currentReply) return
      const code = msg.headers?.code
      if (code === 100) this.#heard = true
      else this.#pullEnds(code === 408 ? 0 : REFUSED_MS)
    } else {
      // A delivery comes on the message's own subject, whichever pull it answers: all count
      // against the current one. A late one of an earlier pull at worst ends it early: one more pull.
      this.#heard = true
      this.#receive(new Delivery(msg))
      if (this.#asked > 0 && --this.#asked === 0) this.#pullEnds(0)
    }
  }

  #receive(msg: Delivery): void {
    const { seq, dseq } = msg
    if (!this.#active) {
      msg.nak()
      return
    }
    if (this.#waiting === undefined && dseq !== this.#nextDseq) this.#holdBack()
    if (this.#waiting !== undefined) this.#receivedWhileWaiting.push(dseq)
    else this.#nextDseq = dseq + 1
    // A second copy of one in hand (its ack wait ran out while it waited): the first one goes on.
    if (this.#unacked.has(seq)) return
    this.#unacked.set(seq, { msg, dseq })
    if (this.#waiting !== undefined) this.#waiting.push(msg)
    else this.deps.ready(this, [msg])
  }

  #holdBack(): void {
    this.#waiting = []
    this.#receivedWhileWaiting = []
    void this.#check()
  }

  async #check(): Promise<void> {
    if (this.#checking) return
    this.#checking = true
    try {
      while (this.#active && this.#waiting !== undefined) {
        try {
          const info = await this.source.info()
          if (this.#resume(info.num_ack_pending, info.delivered.consumer_seq)) return
        } catch (error) {
          this.deps.logger?.debug?.('nats consumer info failed', { shard: this.shard, error: (error as Error).message })
        }
        await sleep(CHECK_MS)
      }
    } finally {
      this.#checking = false
    }
  }

  /** See the class comment: true once every pending message is known to be ours. */
  #resume(pending: number, lastDelivered: number): boolean {
    const waiting = this.#waiting
    if (waiting === undefined || !this.#active) return true
    let mine = 0
    for (const { dseq } of this.#unacked.values()) if (dseq <= lastDelivered) mine++
    if (pending > mine) return false
    const later = this.#receivedWhileWaiting.filter((d) => d > lastDelivered).sort((a, b) => a - b)
    if (later.some((d, i) => d !== lastDelivered + 1 + i)) return false
    this.#nextDseq = lastDelivered + 1 + later.length
    this.#waiting = undefined
    this.#receivedWhileWaiting = []
    this.deps.ready(
      this,
      waiting.sort((a, b) => a.seq - b.seq),
    )
    return true
  }
}
