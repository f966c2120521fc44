import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EventStore, RecordedEvent } from '../../src/index.js'
import { schemaNames } from '../../src/postgres/identifiers.js'
import { admin, collect, DATABASE_URL, dropSchema, eventually, sleep, storeIn, uniqueSchema } from './helpers.js'

const schema = uniqueSchema('out_of_order')
const stores: EventStore[] = []
const open = () => {
  const store = storeIn(schema, { poolSize: 3 })
  stores.push(store)
  return store
}

beforeAll(async () => {
  await open().migrate()
  // Test only: inserting a 'Slow' event stalls its transaction mid-commit for 50–200 ms.
  await admin(`
    CREATE FUNCTION "${schema}".stall() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_sleep(0.05 + random() * 0.15); RETURN NEW; END $$;
    CREATE TRIGGER stall BEFORE INSERT ON "${schema}".events
    FOR EACH ROW WHEN (NEW.type = 'Slow') EXECUTE FUNCTION "${schema}".stall();`)
})

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()))
  await dropSchema(schema)
})

/** Records what a reader receives, failing on the spot if it ever goes backwards or repeats. */
class Witness {
  readonly events: RecordedEvent[] = []
  readonly problems: string[] = []
  readonly #ids = new Set<string>()
  readonly #revisions = new Map<string, bigint>()

  see(event: RecordedEvent) {
    const last = this.events.at(-1)
    if (last !== undefined && event.position <= last.position)
      this.problems.push(`position ${event.position} after ${last.position}`)
    if (this.#ids.has(event.id)) this.problems.push(`event ${event.id} delivered twice`)
    const previous = this.#revisions.get(event.streamId) ?? -1n
    if (event.revision !== previous + 1n) this.problems.push(`${event.streamId}: revision ${event.revision} after ${previous}`)
    this.#ids.add(event.id)
    this.#revisions.set(event.streamId, event.revision)
    this.events.push(event)
  }
}

describe('postgres ordering under out-of-order commits', () => {
  it('never lets a reader skip a slow commit', async () => {
    const live = new Witness()
    // The subscriber is a separate store: it learns of appends only through NOTIFY (or polling).
    const subscription = open().subscribeToAll({ handler: (event) => live.see(event) })
    await subscription.caughtUp
    const poller = new Witness()
    let writing = true
    const reader = open()
    // A tight keyset poller samples the log mid-commit far more often than the subscriber wakes.
    const polling = (async () => {
      let after = 0n
      for (;;) {
        const last = !writing // one full pass after the writers are done
        for await (const event of reader.readAll({ after })) {
          poller.see(event)
          after = event.position
        }
        if (last) return
      }
    })()

    const writers = Array.from({ length: 8 }, (_, w) => {
      const store = open()
      return (async () => {
        for (let i = 0; i < 10; i++) {
          const type = Math.random() < 0.25 ? 'Slow' : 'Fast'
          const events = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, (_, k) => ({ type, data: { w, i, k } }))
          await store.appendToStream(`stream-${(w * 7 + i) % 10}`, events)
        }
      })()
    })
    await Promise.all(writers)
    writing = false
    await polling

    const all = await collect(stores[0]!.readAll())
    // On timeout, fall through: the assertions below then show exactly what was skipped.
    await eventually(() => live.events.length >= all.length, 10_000).catch(() => {})
    await subscription.stop()
    expect(all.length).toBeGreaterThan(8 * 10)
    expect(live.problems).toEqual([])
    expect(poller.problems).toEqual([])
    expect(live.events.map((e) => e.id)).toEqual(all.map((e) => e.id))
    expect(poller.events.map((e) => e.id)).toEqual(all.map((e) => e.id))
  })

  it('holds a later append back until an earlier, still open transaction commits', async () => {
    const [writer, reader] = [open(), open()]
    const head = async () => (await collect(reader.readAll())).at(-1)?.position ?? 0n
    const before = await head()
    // An append transaction left open by hand: it has drawn its position but not committed.
    const names = schemaNames(schema)
    const client = new pg.Client({ connectionString: DATABASE_URL })
    await client.connect()
    try {
      await client.query('BEGIN')
      const { rows } = await client.query(
        `SELECT r_position FROM "${schema}".append_batch($1, $2, $3, $4, $5, $6::uuid[], $7, $8, $9)`,
        [names.writeLockKey, names.channel, ['open'], ['any'], [1], [crypto.randomUUID()], ['Held'], ['1'], ['{}']],
      )
      expect(BigInt(rows[0].r_position)).toBe(before + 1n)
      let settled = false
      const later = writer.appendToStream('later', [{ type: 'Fast', data: 2 }]).finally(() => {
        settled = true
      })
      await sleep(300)
      // The later append waits on the lock instead of committing position P+1 ahead of P.
      expect(settled).toBe(false)
      expect(await head()).toBe(before)
      await client.query('COMMIT')
      expect((await later).position).toBe(before + 2n)
      expect(await head()).toBe(before + 2n)
    } finally {
      await client.end()
    }
  })
})
