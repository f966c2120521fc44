import type { DocumentStore, ProcessingBackend, ProcessingTx } from '../core/internal.js'
import { projectionNamespace } from '../core/projection-types.js'
import { type ProcessorContext, txOf } from '../processing/handling.js'

// The live generation of every rebuilt projection, kept as documents beside the read models.
const POINTERS = 'eventfold:projections'
const COLLECTION = 'generations'

/** Which generation of a projection's read model readers see; 1 until a rebuild switches it. */
export class Generations {
  constructor(
    private readonly backend: ProcessingBackend,
    private readonly name: string,
  ) {}

  async active(): Promise<number> {
    const doc = await this.backend.documents(POINTERS, COLLECTION).get(this.name)
    return generationOf(doc)
  }

  /** The live generation as the given processor transaction sees it. */
  async activeIn(ctx: ProcessorContext): Promise<number> {
    return generationOf(await txOf(ctx).documents(POINTERS, COLLECTION).get(this.name))
  }

  async switchTo(tx: ProcessingTx, generation: number): Promise<void> {
    await tx.documents(POINTERS, COLLECTION).upsert(this.name, { generation })
  }

  /** Documents of whichever generation is live at each call: a switch is seen at once. */
  documents<Doc>(collection: string): DocumentStore<Doc> {
    const live = async () =>
      this.backend.documents(projectionNamespace(this.name, await this.active()), collection) as DocumentStore<Doc>
    return {
      get: async (id) => (await live()).get(id),
      upsert: async (id, doc) => (await live()).upsert(id, doc),
      delete: async (id) => (await live()).delete(id),
      find: async (where, options) => (await live()).find(where, options),
      all: async (options) => (await live()).all(options),
    }
  }
}

const generationOf = (doc: unknown): number => {
  const generation = (doc as { generation?: unknown } | undefined)?.generation
  return typeof generation === 'number' && Number.isSafeInteger(generation) && generation >= 1 ? generation : 1
}
