import { settledWithin } from '../../core/timing.js'
import type { IncomingBinaryMessage } from '../binary-mode.js'
import { handleDelivery, type Outcome, rawOf } from '../delivery.js'
import type { ResolvedSubscription } from '../retry.js'
import type { Consumer, StopOptions } from '../types.js'
import type { MemoryDeadLetters } from './dead-letters.js'

interface Entry {
  wire: IncomingBinaryMessage
  key: string | undefined
  /** Deliveries so far. */
  attempt: number
  notBefore: number
  /** The member handling it now, if any. */
  holder: Member | undefined
}

/**
 * One consumer group: a queue of entries shared by its members. An entry with a partition key is
 * eligible only when no earlier entry of that key is still queued or in hand, which gives per-key
 * order across all members, through retries too, while other keys go on in parallel.
 */
export class MemoryGroup {
  #entries: Entry[] = []
  #members: Member[] = []
  #turn = 0
  #timer: NodeJS.Timeout | undefined
  #types: Set<string> | 'all' | undefined

  constructor(
    readonly name: string,
    private readonly deadLetters: MemoryDeadLetters,
  ) {}

  /** A group takes every type any of its subscriptions asked for: like a queue bound once per subscription. */
  widen(types: readonly string[] | undefined): void {
    if (types === undefined || this.#types === 'all') this.#types = 'all'
    else this.#types = new Set([...(this.#types ?? []), ...types])
  }

  accepts(type: string): boolean {
    return this.#types === 'all' || (this.#types?.has(type) ?? false)
  }

  enqueue(wire: IncomingBinaryMessage, key: string | undefined): void {
    this.#entries.push({ wire, key, attempt: 0, notBefore: 0, holder: undefined })
    this.pump()
  }

  join(subscription: ResolvedSubscription): Member {
    const member = new Member(this, subscription)
    this.#members.push(member)
    this.pump()
    return member
  }

  leave(member: Member): void {
    this.#members = this.#members.filter((m) => m !== member)
  }

  /** Gives every eligible entry to a member with room, round robin. */
  pump(): void {
    const now = Date.now()
    const blocked = new Set<string>()
    let wakeAt = Number.POSITIVE_INFINITY
    for (const entry of this.#entries) {
      if (entry.key !== undefined) {
        if (blocked.has(entry.key)) continue
        blocked.add(entry.key)
      }
      if (entry.holder !== undefined) continue
      if (entry.notBefore > now) {
        wakeAt = Math.min(wakeAt, entry.notBefore)
        continue
      }
      const member = this.#nextWithRoom()
      if (member === undefined) break
      entry.attempt++
      entry.holder = member
      member.take(entry)
    }
    this.#wakeAt(wakeAt - now)
  }

  settle(entry: Entry, outcome: Outcome): void {
    entry.holder = undefined
    if (outcome.kind === 'retry') entry.notBefore = Date.now() + outcome.delayMs
    else if (outcome.kind !== 'abandoned') this.#entries = this.#entries.filter((e) => e !== entry)
    if (outcome.kind === 'dead') this.#bury(entry, outcome)
    this.pump()
  }

  stopTimers(): void {
    clearTimeout(this.#timer)
  }

  #bury(entry: Entry, outcome: Extract<Outcome, { kind: 'dead' }>): void {
    const { message, error, attempts } = outcome
    const base = { group: this.name, error, attempts, origin: `memory:${this.name}`, deadLetteredAt: new Date() }
    const letter =
      message === undefined ? { ...base, id: crypto.randomUUID(), raw: rawOf(entry.wire) } : { ...base, id: message.id, message }
    this.deadLetters.add(letter, entry.wire)
  }

  #nextWithRoom(): Member | undefined {
    for (let i = 0; i < this.#members.length; i++) {
      const member = this.#members[(this.#turn + i) % this.#members.length] as Member
      if (member.hasRoom()) {
        this.#turn = (this.#turn + i + 1) % this.#members.length
        return member
      }
    }
    return undefined
  }

  #wakeAt(delayMs: number): void {
    clearTimeout(this.#timer)
    this.#timer = Number.isFinite(delayMs) ? setTimeout(() => this.pump(), Math.max(0, delayMs)) : undefined
  }
}

/** One subscriber of a group. */
export class Member implements Consumer {
  #inHand = new Map<Entry, Promise<void>>()
  #stopped = false

  constructor(
    private readonly groupState: MemoryGroup,
    private readonly subscription: ResolvedSubscription,
  ) {}

  get group(): string {
    return this.groupState.name
  }

  hasRoom(): boolean {
    return !this.#stopped && this.#inHand.size < this.subscription.concurrency
  }

  take(entry: Entry): void {
    const run = handleDelivery(entry.wire, 'kafka', entry.attempt, this.subscription).then((outcome) => {
      // Given up by `stop` meanwhile: the entry already went back to the group.
      if (!this.#inHand.delete(entry)) return
      this.groupState.settle(entry, outcome)
    })
    this.#inHand.set(entry, run)
  }

  async stop(options: StopOptions = {}): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.groupState.leave(this)
    const drained = Promise.all(this.#inHand.values())
    if (options.timeoutMs === undefined) return void (await drained)
    if (await settledWithin(drained, options.timeoutMs)) return
    // Like a consumer whose connection died: what it held was never acknowledged, so it is delivered again.
    const abandoned = [...this.#inHand.keys()]
    this.#inHand.clear()
    for (const entry of abandoned) this.groupState.settle(entry, { kind: 'abandoned' })
  }
}
