import { Command, Redis } from 'ioredis'
import { afterAll, expect, it } from 'vitest'
import { EncodedCommand, encodeCommand, encodedCommand } from '../../src/redis/resp.js'
import { unique } from '../messaging/conformance/helpers.js'
import { REDIS_URL } from '../messaging/conformance/transports.js'
import { deleteKeys } from './admin.js'

const prefix = `resp-${unique()}`
const redis = new Redis(REDIS_URL)

afterAll(async () => {
  await deleteKeys(redis, prefix)
  await redis.quit()
})

it('encodes a command byte for byte as ioredis does: empty, multi-byte and long arguments, ten and more of them', () => {
  const cases = [
    ['ping', []],
    ['set', ['k', '']],
    ['xadd', ['s', '*', 'név', 'été ☃ 𝄞', 'data', 'x'.repeat(10_000)]],
    ['xreadgroup', ['GROUP', 'g', 'me', ...Array.from({ length: 12 }, (_, i) => `s${i}`)]],
  ] as const
  for (const [name, args] of cases) {
    const ours = encodeCommand(name, args)
    const theirs = new Command(name, [...args]).toWritable({})
    expect(ours.toString('utf8')).toBe(theirs)
    expect(ours.length).toBe(Buffer.byteLength(theirs as string))
  }
})

it('sends through ioredis, alone or in a transaction, and gets its reply as text', async () => {
  const key = `${prefix}:k`
  const set = encodedCommand('set', [key, 'é'])
  void redis.sendCommand(set)
  expect(await set.promise).toBe('OK')
  const get = new EncodedCommand('get', [key], encodeCommand('get', [key]))
  void redis.sendCommand(get)
  expect(await get.promise).toBe('é')
  const batch = redis.multi() as unknown as { sendCommand(c: Command): unknown; exec(): Promise<unknown> }
  batch.sendCommand(encodedCommand('append', [key, '!']))
  batch.sendCommand(encodedCommand('get', [key]))
  expect(await batch.exec()).toEqual([
    [null, 3], // bytes: é is two
    [null, 'é!'],
  ])
})
