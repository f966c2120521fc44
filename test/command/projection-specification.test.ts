import { describe, expect, it } from 'vitest'
import { defineProjection } from '../../src/index.js'
import { ProjectionSpecification } from '../../src/testing/index.js'

const counts = defineProjection({
  name: 'counts',
  async handle(events, { documents }) {
    const docs = documents<{ n: number }>('streams')
    for (const event of events) {
      if (event.type === 'Broken') throw new Error('cannot count this')
      const doc = (await docs.get(event.streamId)) ?? { n: 0 }
      await docs.upsert(event.streamId, { n: doc.n + 1 })
    }
  },
})

describe('ProjectionSpecification', () => {
  it('runs the projection over the given events and hands the read model to the check', async () => {
    await ProjectionSpecification.for(counts)
      .given([
        { streamId: 'a', type: 'Seen', data: {} },
        { streamId: 'b', type: 'Seen', data: {} },
        { streamId: 'a', type: 'Seen', data: {} },
      ])
      .thenReadModel(async (read) => {
        expect(await read.documents('streams').all()).toEqual([
          { id: 'a', doc: { n: 2 } },
          { id: 'b', doc: { n: 1 } },
        ])
      })
  })

  it('fails when the check fails', async () => {
    const run = ProjectionSpecification.for(counts)
      .given([{ streamId: 'a', type: 'Seen', data: {} }])
      .thenReadModel(async (read) => expect(await read.documents('streams').get('a')).toEqual({ n: 5 }))
    await expect(run).rejects.toThrow()
  })

  it('fails with PROCESSOR_FAILED when the projection throws', async () => {
    const run = ProjectionSpecification.for(counts)
      .given([{ streamId: 'a', type: 'Broken', data: {} }])
      .thenReadModel(() => {})
    await expect(run).rejects.toMatchObject({ code: 'PROCESSOR_FAILED' })
  })
})
