import { expect, it } from 'vitest'
import { waitFor } from './helpers.js'
import type { MessagingContext } from './suite.js'

const MESSAGES = 60

export function groupsSuite(t: MessagingContext) {
  it('spreads one group over its members, and gives every group every message', async () => {
    const byMember: string[][] = [[], [], []]
    const audit: string[] = []
    const clients = [t.transport(), await t.subject().connect(), await t.subject().connect()]
    const taking = new Set<number>()
    for (const [i, client] of clients.entries()) {
      await client.subscribe({
        group: 'workers',
        handler: async (m) => {
          byMember[i]?.push(m.id)
          taking.add(i)
          // Every handler waits until a second member has taken part: a group that does not
          // spread (one member keeping everything) never gets there, however fast or slow the machine.
          await waitFor('a second member to take part', () => taking.size >= 2)
        },
      })
    }
    await t.transport().subscribe({ group: 'audit', handler: (m) => void audit.push(m.id) })

    const { ids } = await t.transport().publish(Array.from({ length: MESSAGES }, (_, i) => ({ type: 'Job', data: i })))
    const handled = () => byMember.flat()
    await waitFor('the workers to handle every job', () => handled().length >= MESSAGES, 25_000)
    await waitFor('the audit group to see every job', () => audit.length >= MESSAGES)

    expect(handled().sort()).toEqual([...ids].sort())
    expect(audit.sort()).toEqual([...ids].sort())
    expect(byMember.filter((handledByOne) => handledByOne.length > 0).length).toBeGreaterThan(1)
  })

  it('keeps a group’s messages for it while no member is running', async () => {
    const consumer = await t.transport().subscribe({ group: 'late', handler: () => {} })
    await consumer.stop()
    await t.transport().publish([{ type: 'Kept', data: 1 }])
    const got: unknown[] = []
    await (await t.subject().connect()).subscribe({ group: 'late', handler: (m) => void got.push(m.data) })
    await waitFor('the kept message', () => got.length === 1)
    expect(got).toEqual([1])
  })
}
