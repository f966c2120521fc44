import type { PartitionState, ProcessingBackend } from '../core/processing-port.js'
import type { Logger } from '../core/types.js'
import { shareOf } from './partitioning.js'

/**
 * This instance's place in the group: a heartbeat keeps it (and its leases) alive, and between
 * batches the processor calls `sync()` to take its share of the partitions and give up the rest.
 * Rebalancing only between batches means a partition changes hands when no work on it is open.
 */
export class Membership {
  #members: string[] = []
  #due = true
  #timer: NodeJS.Timeout | undefined

  constructor(
    private readonly backend: ProcessingBackend,
    private readonly processor: string,
    readonly member: string,
    private readonly partitionCount: number,
    private readonly leaseMs: number,
    private readonly logger: Logger | undefined,
  ) {}

  async join(): Promise<void> {
    await this.#beat()
    this.#timer = setInterval(() => void this.#beat(), Math.max(10, Math.floor(this.leaseMs / 3)))
  }

  async leave(): Promise<void> {
    clearInterval(this.#timer)
    await this.backend.leave(this.processor, this.member)
  }

  /** Partitions this member should hold and does: new ones with the checkpoint stored for them. */
  async sync(held: ReadonlyMap<number, bigint>): Promise<PartitionState[] | undefined> {
    const wanted = shareOf(this.member, this.#members, this.partitionCount)
    const complete = wanted.length === held.size && wanted.every((p) => held.has(p))
    if (!this.#due && complete) return undefined
    this.#due = false
    return this.backend.rebalance(this.processor, this.member, wanted, this.leaseMs)
  }

  /** Makes the next `sync()` ask the database again (after a lost lease, say). */
  invalidate(): void {
    this.#due = true
  }

  async #beat(): Promise<void> {
    try {
      const members = await this.backend.heartbeat(this.processor, this.member, this.leaseMs)
      if (members.join('\n') !== this.#members.join('\n')) this.#members = members
      // Also while the share is incomplete: a dead member's leases run out a little after it does.
      this.#due = true
    } catch (error) {
      this.logger?.warn?.('eventfold: processor heartbeat failed', { processor: this.processor, error })
    }
  }
}
