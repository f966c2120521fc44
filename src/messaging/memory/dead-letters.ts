import type { IncomingBinaryMessage } from '../binary-mode.js'
import { DeadLetterNotFoundError } from '../errors.js'
import type { DeadLetter, DeadLetterQueue } from '../types.js'

interface Stored {
  letter: DeadLetter
  wire: IncomingBinaryMessage
}

/** Dead letters kept per group, with the bytes of each so a replay delivers exactly what failed. */
export class MemoryDeadLetters implements DeadLetterQueue {
  #byGroup = new Map<string, Stored[]>()

  constructor(private readonly redeliver: (group: string, wire: IncomingBinaryMessage) => void) {}

  add(letter: DeadLetter, wire: IncomingBinaryMessage): void {
    const list = this.#byGroup.get(letter.group) ?? []
    list.push({ letter, wire })
    this.#byGroup.set(letter.group, list)
  }

  async list(group: string, options: { limit?: number } = {}): Promise<DeadLetter[]> {
    const list = this.#byGroup.get(group) ?? []
    return list.slice(0, options.limit ?? list.length).map((s) => s.letter)
  }

  async replay(group: string, ids: readonly string[]): Promise<void> {
    for (const stored of this.#take(group, ids)) this.redeliver(group, stored.wire)
  }

  async discard(group: string, ids: readonly string[]): Promise<void> {
    this.#take(group, ids)
  }

  /** All or nothing: an unknown id fails the call before anything is removed. */
  #take(group: string, ids: readonly string[]): Stored[] {
    const list = this.#byGroup.get(group) ?? []
    const taken = ids.map((id) => {
      const found = list.find((s) => s.letter.id === id)
      if (found === undefined) throw new DeadLetterNotFoundError(id)
      return found
    })
    this.#byGroup.set(
      group,
      list.filter((s) => !taken.includes(s)),
    )
    return taken
  }
}
