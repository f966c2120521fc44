import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream'
import { decodeBinary } from '../messaging/binary-mode.js'
import { rawOf } from '../messaging/delivery.js'
import { DeadLetterNotFoundError } from '../messaging/errors.js'
import type { DeadLetter, DeadLetterQueue } from '../messaging/types.js'
import { H, type Names } from './names.js'
import type { NatsPublisher } from './publisher.js'
import { originalHeaders, toIncoming } from './wire.js'

interface Stored {
  seq: number
  letter: DeadLetter
  msg: JsMsg
}

/**
 * Dead letters are messages of the `<prefix>_dead` stream, one subject per group: JetStream only
 * announces that a message ran out of deliveries, it does not move it, so members store the
 * message there with the error themselves. Listing reads the group's subject with a throwaway
 * consumer; discarding deletes by sequence.
 */
export class NatsDeadLetters implements DeadLetterQueue {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: Names,
    private readonly publisher: NatsPublisher,
  ) {}

  async list(group: string, options: { limit?: number } = {}): Promise<DeadLetter[]> {
    const all = await this.#read(group)
    return all.slice(0, options.limit ?? all.length).map((s) => s.letter)
  }

  async replay(group: string, ids: readonly string[]): Promise<void> {
    for (const stored of pick(await this.#read(group), ids)) {
      const key = stored.msg.headers?.get(H.partitionKey) || stored.letter.id
      const subject = this.names.replaySubject(this.names.shardOf(key), group)
      const headers = { ...originalHeaders(stored.msg.headers), [H.replayGroup]: group }
      await this.publisher.send([{ id: stored.letter.id, subject, body: stored.msg.data, headers }])
      await this.jsm.streams.deleteMessage(this.names.deadStream, stored.seq)
    }
  }

  async discard(group: string, ids: readonly string[]): Promise<void> {
    for (const stored of pick(await this.#read(group), ids))
      await this.jsm.streams.deleteMessage(this.names.deadStream, stored.seq)
  }

  async #read(group: string): Promise<Stored[]> {
    const { name, num_pending } = await this.jsm.consumers.add(this.names.deadStream, {
      filter_subject: this.names.deadSubject(group),
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      inactive_threshold: 60_000_000_000,
    })
    try {
      const consumer = await this.js.consumers.get(this.names.deadStream, name)
      const stored: Stored[] = []
      while (stored.length < num_pending) {
        const msg = await consumer.next({ expires: 1_000 })
        if (msg === null) break
        stored.push({ seq: msg.info.streamSequence, letter: toDeadLetter(group, msg), msg })
      }
      return stored
    } finally {
      await this.jsm.consumers.delete(this.names.deadStream, name).catch(() => {})
    }
  }
}

function pick(all: Stored[], ids: readonly string[]): Stored[] {
  return ids.map((id) => {
    const found = all.find((s) => s.letter.id === id)
    if (found === undefined) throw new DeadLetterNotFoundError(id)
    return found
  })
}

function toDeadLetter(group: string, msg: JsMsg): DeadLetter {
  const get = (name: string) => msg.headers?.get(name) || undefined
  const base = {
    id: get(H.deadLetterId) ?? String(msg.info.streamSequence),
    group,
    error: JSON.parse(get(H.error) ?? '{"message":"unknown"}'),
    attempts: Number(get(H.attempts) ?? 1),
    origin: get(H.origin) ?? 'unknown',
    deadLetteredAt: new Date(get(H.deadAt) ?? 0),
  }
  const incoming = toIncoming(msg.headers, msg.data)
  const own = { ...incoming, headers: originalHeaders(msg.headers) }
  try {
    return { ...base, message: decodeBinary(own, 'nats') }
  } catch {
    return { ...base, raw: rawOf({ ...own, contentType: undefined }) }
  }
}
