import { type ChainableCommander, Command, type Pipeline, type Redis } from 'ioredis'

const CR = 13
const LF = 10
const DOLLAR = 36

/**
 * A command written to the socket as bytes encoded here. ioredis builds each command's text by
 * concatenating five strings per argument, which the socket then flattens and encodes again: for
 * the transport's commands, sent once or twice per message, that was the larger part of what a
 * message allocated. The arguments stay on the command as ioredis keeps them (its tracing, its
 * debug log and its key handling read them); only the bytes it writes come from here.
 */
export class EncodedCommand extends Command {
  readonly #bytes: Buffer

  constructor(name: string, args: string[], bytes: Buffer) {
    // Given no arguments to copy (ioredis flattens what it is given into a new array), then the
    // caller's own: they are all strings already, which ioredis would leave as they are.
    super(name, [], { replyEncoding: 'utf8' })
    this.args = args
    this.#bytes = bytes
  }

  override toWritable(): Buffer {
    return this.#bytes
  }
}

/** The command, its bytes encoded at once. */
export function encodedCommand(name: string, args: string[]): EncodedCommand {
  return new EncodedCommand(name, args, encodeCommand(name, args))
}

/** Sends the command; its answer (ioredis returns the command's promise, typed as nothing in particular). */
export function send(redis: Redis, command: EncodedCommand): Promise<unknown> {
  void redis.sendCommand(command)
  return command.promise
}

/**
 * Queues the command on a pipeline or a transaction: a `Pipeline` underneath, which the type that
 * `pipeline()` and `multi()` return does not say; its own `xadd` and `xack` call this.
 */
export function queueCommand(batch: ChainableCommander, command: EncodedCommand): void {
  ;(batch as unknown as Pipeline).sendCommand(command)
}

/** `name` and `args` as RESP: an array of bulk strings, as Redis reads a command. */
export function encodeCommand(name: string, args: readonly string[]): Buffer {
  const lengths = new Array<number>(args.length)
  let size = 1 + digits(args.length + 1) + 2 + bulkSize(name.length)
  for (let i = 0; i < args.length; i++) {
    const length = byteLength(args[i] as string)
    lengths[i] = length
    size += bulkSize(length)
  }
  const bytes = Buffer.allocUnsafe(size)
  bytes[0] = 42 // '*'
  let at = writeCount(bytes, 1, args.length + 1)
  at = writeBulk(bytes, at, name, name.length)
  for (let i = 0; i < args.length; i++) at = writeBulk(bytes, at, args[i] as string, lengths[i] as number)
  return bytes
}

/**
 * Up to this many characters, ASCII text is measured and copied here, a character at a time: a
 * call into Buffer's native code costs more than that, and most arguments (names, ids, times) are
 * that short.
 */
const SHORT = 64

function byteLength(text: string): number {
  if (text.length > SHORT) return Buffer.byteLength(text)
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return Buffer.byteLength(text)
  return text.length
}

const bulkSize = (length: number) => 1 + digits(length) + 2 + length + 2

function writeBulk(bytes: Buffer, at: number, text: string, length: number): number {
  bytes[at] = DOLLAR
  at = writeCount(bytes, at + 1, length)
  // As many bytes as characters: ASCII (any other character takes two bytes or more).
  if (length === text.length && length <= SHORT) {
    for (let i = 0; i < length; i++) bytes[at + i] = text.charCodeAt(i)
    at += length
  } else {
    at += bytes.write(text, at, length, 'utf8')
  }
  bytes[at] = CR
  bytes[at + 1] = LF
  return at + 2
}

/** `n` in decimal, then CRLF. */
function writeCount(bytes: Buffer, at: number, n: number): number {
  const end = at + digits(n)
  for (let i = end - 1; i >= at; i--) {
    bytes[i] = 48 + (n % 10)
    n = Math.floor(n / 10)
  }
  bytes[end] = CR
  bytes[end + 1] = LF
  return end + 2
}

function digits(n: number): number {
  let count = 1
  while (n >= 10) {
    n = Math.floor(n / 10)
    count++
  }
  return count
}
