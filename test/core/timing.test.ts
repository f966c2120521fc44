import { expect, it } from 'vitest'
import { repeatUntilAborted, sleep } from '../../src/core/timing.js'

it('repeats a heartbeat without overlap, past a failed run, until aborted', async () => {
  const stop = new AbortController()
  const errors: string[] = []
  let runs = 0
  let running = 0
  let overlapped = false
  repeatUntilAborted(
    5,
    stop.signal,
    async () => {
      runs++
      if (running++ > 0) overlapped = true
      await sleep(15)
      running--
      if (runs === 2) throw new Error('second run failed')
    },
    (error) => errors.push(error.message),
  )
  await expect.poll(() => runs, { timeout: 5_000 }).toBeGreaterThanOrEqual(4)
  stop.abort()
  await sleep(40)
  const after = runs
  await sleep(60)
  expect(runs).toBe(after)
  expect(overlapped).toBe(false)
  expect(errors).toEqual(['second run failed'])
})

it('does not start when already aborted', async () => {
  const stop = new AbortController()
  stop.abort()
  let runs = 0
  repeatUntilAborted(
    1,
    stop.signal,
    async () => void runs++,
    () => {},
  )
  await sleep(20)
  expect(runs).toBe(0)
})
