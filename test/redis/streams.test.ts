import { Redis } from 'ioredis'
import { afterAll, expect, it } from 'vitest'
import { ensureGroup, NewEntriesRead, type ReadEntry } from '../../src/redis/streams.js'
import { unique } from '../messaging/conformance/helpers.js'
import { REDIS_URL } from '../messaging/conformance/transports.js'
import { deleteKeys } from './admin.js'

const prefix = `streams-${unique()}`
const redis = new Redis(REDIS_URL)
const reader = new Redis(REDIS_URL)

afterAll(async () => {
  await deleteKeys(redis, prefix)
  await Promise.all([redis.quit(), reader.quit()])
})

it('hands a read its entries as text, multi-byte and empty values included, per stream in the order read', async () => {
  const streams = [`${prefix}:a`, `${prefix}:b`]
  for (const stream of streams) await ensureGroup(redis, stream, 'g')
  const id = await redis.xadd(streams[1] as string, '*', 'ce_id', 'été ☃ 𝄞', 'empty', '', 'data', 'x'.repeat(5_000))
  let taken: [string, ReadEntry[]][] | undefined
  await new NewEntriesRead(streams, 'g', 'me', 10).send(reader, (read) => {
    taken = read
  })
  expect(taken).toEqual([[streams[1], [{ id, fields: { ce_id: 'été ☃ 𝄞', empty: '', data: 'x'.repeat(5_000) }, deliveries: 1 }]]])
})
