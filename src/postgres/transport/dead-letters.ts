import { InvalidInputError } from '../../core/errors.js'
import { decodeBinary } from '../../messaging/binary-mode.js'
import { rawOf } from '../../messaging/delivery.js'
import type { Message } from '../../messaging/envelope.js'
import { DeadLetterNotFoundError } from '../../messaging/errors.js'
import type { DeadLetter, DeadLetterQueue } from '../../messaging/types.js'
import type { SchemaNames } from '../identifiers.js'
import type { Db } from './db.js'
import * as sql from './sql.js'
import { BINDING, fromRow } from './wire.js'

const GROUP = /^[A-Za-z0-9_-]{1,100}$/

/**
 * The dead letters of every group, in one table beside the queue. Replay and discard are all or
 * nothing: an unknown id fails the call before anything changes.
 */
export class PostgresDeadLetters implements DeadLetterQueue {
  constructor(
    private readonly db: Db,
    private readonly names: SchemaNames,
    private readonly checkOpen: () => void,
  ) {}

  async list(group: string, options: { limit?: number } = {}): Promise<DeadLetter[]> {
    this.checkOpen()
    checkGroup(group)
    const { limit } = options
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0))
      throw new InvalidInputError('INVALID_ARGUMENT', 'limit must be a whole number ≥ 0', 'limit')
    const rows = await this.db.query<sql.DeadLetterRow>(sql.listDeadLetters(this.names, group, limit ?? null))
    return rows.map((row) => toDeadLetter(group, row))
  }

  async replay(group: string, ids: readonly string[]): Promise<void> {
    await this.#take(group, ids, (query) => query(sql.replayDeadLetters(this.names, group, ids)))
  }

  async discard(group: string, ids: readonly string[]): Promise<void> {
    await this.#take(group, ids, (query) => query(sql.discardDeadLetters(this.names, group, ids)))
  }

  async #take(
    group: string,
    ids: readonly string[],
    act: (query: (q: sql.Query) => Promise<unknown[]>) => Promise<unknown>,
  ): Promise<void> {
    this.checkOpen()
    checkGroup(group)
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string'))
      throw new InvalidInputError('INVALID_ARGUMENT', 'ids must be a list of strings', 'ids')
    if (ids.length === 0) return
    await this.db.transaction(async (query) => {
      const found = new Set((await query<{ id: string }>(sql.lockDeadLetters(this.names, group, ids))).map((row) => row.id))
      const missing = ids.find((id) => !found.has(id))
      if (missing !== undefined) throw new DeadLetterNotFoundError(missing)
      await act(query)
    })
  }
}

function checkGroup(group: unknown): void {
  if (typeof group !== 'string' || !GROUP.test(group))
    throw new InvalidInputError('INVALID_ARGUMENT', 'group must be letters, digits, _ or -', 'group')
}

function toDeadLetter(group: string, row: sql.DeadLetterRow): DeadLetter {
  const base = {
    id: row.id,
    group,
    error: JSON.parse(row.error) as DeadLetter['error'],
    attempts: Number(row.attempts),
    origin: row.origin,
    deadLetteredAt: new Date(Number(row.dead_ms)),
  }
  const wire = fromRow(row)
  let message: Message
  try {
    message = decodeBinary(wire, BINDING)
  } catch {
    return { ...base, raw: rawOf(wire) }
  }
  return { ...base, message }
}
