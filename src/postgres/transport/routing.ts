import type * as sql from './sql.js'
import type { StoredWire } from './sql.js'

/**
 * A publisher's copy of which groups take which types, at a routing version (see schema version 9).
 * Rows are routed as `publish`'s join would route them: a message goes to each group subscribed to
 * its type or to everything, once per group. The order of groups is free: each group's rows keep
 * the batch's order, and nothing orders one group's rows against another's.
 */
export class Routing {
  readonly #byType = new Map<string, readonly string[]>()
  readonly #typesByGroup = new Map<string, Set<string>>()

  constructor(
    readonly version: bigint,
    subscriptions: readonly { group_name: string | null; type: string | null }[],
  ) {
    for (const { group_name: group, type } of subscriptions) {
      if (group === null || type === null) continue
      let types = this.#typesByGroup.get(group)
      if (types === undefined) {
        types = new Set()
        this.#typesByGroup.set(group, types)
      }
      types.add(type)
    }
  }

  groupsOf(type: string): readonly string[] {
    let groups = this.#byType.get(type)
    if (groups === undefined) {
      groups = [...this.#typesByGroup].filter(([, types]) => types.has(type) || types.has('')).map(([group]) => group)
      // Types come from publishers' code: few. Past a bound, stop remembering rather than grow.
      if (this.#byType.size < 10_000) this.#byType.set(type, groups)
    }
    return groups
  }

  route(wires: readonly StoredWire[]): sql.Routed[] {
    const rows: sql.Routed[] = []
    for (const wire of wires) for (const group of this.groupsOf(wire.type)) rows.push({ group, wire })
    return rows
  }
}
