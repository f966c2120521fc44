import { afterEach, beforeEach, describe } from 'vitest'
import type { EventStore, StoreOptions } from '../../src/index.js'
import { type AdapterName, adapters, type StoreUnderTest } from './adapters.js'
import { appendSuite } from './append.suite.js'
import { badInputSuite } from './bad-input.suite.js'
import { commandSuite } from './command.suite.js'
import { deleteSuite } from './delete.suite.js'
import { inlineProjectionSuite } from './inline-projection.suite.js'
import { processorSuite } from './processor.suite.js'
import { projectionSuite, rebuildSuite } from './projection.suite.js'
import { readSuite } from './read.suite.js'
import { subscriptionSuite } from './subscription.suite.js'

export interface SuiteContext {
  /** A fresh, migrated store for the current test. */
  store(): EventStore
  /** Another store with its own options, cleaned up after the test. */
  open(options: StoreOptions): Promise<EventStore>
}

/** The one conformance suite: every adapter runs all of it. */
export function eventStoreConformance(adapter: AdapterName) {
  describe(`event store conformance: ${adapter}`, () => {
    let current: StoreUnderTest | undefined
    let extra: StoreUnderTest[] = []

    beforeEach(async () => {
      current = await adapters[adapter]()
    })

    afterEach(async () => {
      await Promise.all([current, ...extra].map((s) => s?.cleanup()))
      current = undefined
      extra = []
    })

    const context: SuiteContext = {
      store() {
        if (current === undefined) throw new Error('no store: called outside a test')
        return current.store
      },
      async open(options) {
        const opened = await adapters[adapter](options)
        extra.push(opened)
        return opened.store
      },
    }

    appendSuite(context)
    readSuite(context)
    deleteSuite(context)
    subscriptionSuite(context)
    badInputSuite(context)
    commandSuite(context)
    processorSuite(context)
    projectionSuite(context)
    inlineProjectionSuite(context)
    rebuildSuite(context)
  })
}
