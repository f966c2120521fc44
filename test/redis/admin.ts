import type { Redis } from 'ioredis'

/** Deletes every key under the prefix: what a test file's transports and scripts left behind. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`)
  if (keys.length > 0) await redis.del(...keys)
}

/** Kills, from the server side, only the connections of transports of this prefix (named after it); how many. */
export async function killConnections(redis: Redis, prefix: string): Promise<number> {
  const list = (await redis.client('LIST')) as string
  const ours = list
    .split('\n')
    .filter((line) => line.includes(` name=eventfold-${prefix} `))
    .map((line) => /\bid=(\d+)/.exec(line)?.[1] as string)
  for (const id of ours) await redis.client('KILL', 'ID', id)
  return ours.length
}
