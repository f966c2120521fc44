import { describe, expect, it } from 'vitest'
import { type RebuildProgress, reporter } from '../../src/projection/rebuild.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A head whose reads take as long as the test says, to put a tick in flight at the worst moment. */
function slowHead(delays: number[]) {
  let calls = 0
  return {
    calls: () => calls,
    async headPosition() {
      const delay = delays[Math.min(calls++, delays.length - 1)] ?? 0
      await sleep(delay)
      return 8n
    },
  }
}

const builder = { stats: () => ({ partitions: [{ position: 3n }] }) as never }

describe('rebuild progress reports', () => {
  it('a building report still reading the head when building ends lands before switched, not after', async () => {
    const seen: RebuildProgress['phase'][] = []
    // The first tick's read of the head outlasts the end of building and the 'switched' report.
    const head = slowHead([60, 0])
    const report = reporter(builder, head, 2, {
      progressIntervalMs: 5,
      onProgress: (p) => seen.push(p.phase),
    })
    await sleep(15)
    expect(head.calls()).toBe(1)
    await report.stop()
    await report.emit('switched')
    await sleep(80)
    expect(seen).toEqual(['building', 'switched'])
  })

  it('ticks never overlap, so reports come in the order they were measured', async () => {
    const done: bigint[] = []
    let position = 0n
    let reading = 0
    let most = 0
    const head = {
      async headPosition() {
        most = Math.max(most, ++reading)
        await sleep(20)
        reading--
        return 100n
      },
    }
    const moving = { stats: () => ({ partitions: [{ position: ++position }] }) as never }
    const report = reporter(moving, head, 2, { progressIntervalMs: 2, onProgress: (p) => done.push(p.done) })
    while (done.length < 3) await sleep(5)
    await report.stop()
    expect(most).toBe(1)
    expect([...done].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(done)
  })
})
