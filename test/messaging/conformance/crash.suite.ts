import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { expect, it } from 'vitest'
import type { ReceivedMessage } from '../../../src/index.js'
import { deferred, waitFor } from './helpers.js'
import type { MessagingContext } from './suite.js'

const CHILD = join(import.meta.dirname, '..', 'fixtures', 'crash-consumer.ts')

export function crashSuite(t: MessagingContext) {
  it('redelivers a message whose consumer died mid-handling to a surviving member (at least once)', async () => {
    const crash = t.subject().crash
    const survivor: ReceivedMessage[] = []
    const survive = async () =>
      (await t.subject().connect()).subscribe({ group: 'crashy', handler: (m) => void survivor.push(m) })

    if (crash.kind === 'sigkill') {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
        env: { ...process.env, ...crash.childEnv, CRASH_GROUP: 'crashy', CRASH_TRANSPORT: t.name },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      const lines = createInterface({ input: child.stdout })
      const ready = deferred()
      const handling = deferred<string>()
      lines.on('line', (line) => {
        if (line === 'ready') ready.resolve()
        if (line.startsWith('handling ')) handling.resolve(line.slice('handling '.length))
      })
      const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)))
      try {
        await ready.promise
        const { ids } = await t.transport().publish([{ type: 'Work', data: 'w' }])
        expect(await handling.promise).toBe(ids[0])
        // Join only now, so the child was the only member able to take the message first.
        await survive()
        child.kill('SIGKILL')
        expect(await exited).toBe('SIGKILL')
        await waitFor('the redelivery', () => survivor.length === 1)
        expect(survivor[0]?.id).toBe(ids[0])
      } finally {
        child.kill('SIGKILL')
      }
      return
    }

    // The stand-in (see the transport's `crash.reason`): a handler that never settles, given up by stop.
    expect(crash.reason.length).toBeGreaterThan(0)
    const started = deferred<string>()
    const doomed = await t.transport().subscribe({
      group: 'crashy',
      handler: (m) => {
        started.resolve(m.id)
        return new Promise<void>(() => {})
      },
    })
    const { ids } = await t.transport().publish([{ type: 'Work', data: 'w' }])
    expect(await started.promise).toBe(ids[0])
    await survive()
    await doomed.stop({ timeoutMs: 50 })
    await waitFor('the redelivery', () => survivor.length === 1)
    expect(survivor[0]).toMatchObject({ id: ids[0], attempt: 2 })
  })

  it('stop waits for the handlers in hand, and the stopped consumer gets nothing more', async () => {
    const started = deferred()
    const release = deferred()
    const done: number[] = []
    const consumer = await t.transport().subscribe({
      group: 'graceful',
      handler: async (m) => {
        started.resolve()
        await release.promise
        done.push(m.data as number)
      },
    })
    await t.transport().publish([{ type: 'Work', data: 1 }])
    await started.promise
    const stopping = consumer.stop()
    release.resolve()
    await stopping
    expect(done).toEqual([1])

    await t.transport().publish([{ type: 'Work', data: 2 }])
    const next: number[] = []
    await (await t.subject().connect()).subscribe({ group: 'graceful', handler: (m) => void next.push(m.data as number) })
    await waitFor('the next member to get the message', () => next.length === 1)
    expect(next).toEqual([2])
    expect(done).toEqual([1])
  })
}
