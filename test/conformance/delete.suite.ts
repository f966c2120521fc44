import { describe, expect, it } from 'vitest'
import { collect, events, failure } from './helpers.js'
import type { SuiteContext } from './suite.js'

export function deleteSuite({ store }: SuiteContext) {
  describe('deleteStream', () => {
    it('soft delete hides the stream; appending again continues the revisions', async () => {
      await store().appendToStream('soft', events(3))
      await store().appendToStream('kept', events(1))
      await store().deleteStream('soft', { mode: 'soft', expectedRevision: 2n })
      expect(await collect(store().readStream('soft'))).toEqual([])
      expect((await collect(store().readAll())).map((e) => e.streamId)).toEqual(['kept'])
      expect(await store().aggregateStream('soft', { initialState: () => 0, evolve: (n) => n + 1 })).toEqual({
        state: 0,
        revision: undefined,
      })
      const stale = await failure(store().appendToStream('soft', events(1), { expectedRevision: 'no_stream' }))
      expect(stale).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', actual: 2n })
      const r = await store().appendToStream('soft', events(1, 'Again'), { expectedRevision: 2n })
      expect(r.nextExpectedRevision).toBe(3n)
      const after = await collect(store().readStream('soft'))
      expect(after.map((e) => [e.type, e.revision])).toEqual([['Again', 3n]])
    })

    it('hard delete is permanent', async () => {
      await store().appendToStream('hard', events(2))
      await store().deleteStream('hard', { mode: 'hard' })
      expect(await collect(store().readStream('hard'))).toEqual([])
      expect(await collect(store().readAll())).toEqual([])
      for (const expectedRevision of ['any', 'no_stream', 'stream_exists', 1n] as const) {
        const error = await failure(store().appendToStream('hard', events(1), { expectedRevision }))
        expect(error).toMatchObject({ code: 'STREAM_DELETED', streamId: 'hard' })
      }
      expect((await failure(store().deleteStream('hard', { mode: 'soft' }))).code).toBe('STREAM_DELETED')
      expect(await collect(store().readAll())).toEqual([])
    })

    it('hard-deleting a stream never written still forbids it', async () => {
      await store().deleteStream('never', { mode: 'hard' })
      expect((await failure(store().appendToStream('never', events(1)))).code).toBe('STREAM_DELETED')
    })

    it('checks the expected revision and deletes nothing on a mismatch', async () => {
      await store().appendToStream('guarded', events(2))
      const error = await failure(store().deleteStream('guarded', { mode: 'hard', expectedRevision: 0n }))
      expect(error).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', expected: 0n, actual: 1n })
      expect(await collect(store().readStream('guarded'))).toHaveLength(2)
      const missing = await failure(store().deleteStream('nope', { expectedRevision: 'stream_exists' }))
      expect(missing).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', actual: 'no_stream' })
    })

    it('soft-deleting a stream never written changes nothing', async () => {
      await store().deleteStream('ghost')
      const r = await store().appendToStream('ghost', events(1), { expectedRevision: 'no_stream' })
      expect(r.nextExpectedRevision).toBe(0n)
    })

    it('never reuses positions of deleted events', async () => {
      await store().appendToStream('first', events(1))
      const last = await store().appendToStream('newest', events(2))
      await store().deleteStream('newest', { mode: 'hard' })
      const next = await store().appendToStream('later', events(1))
      expect(next.position).toBeGreaterThan(last.position)
    })
  })
}
