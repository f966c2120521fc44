import { afterAll, afterEach, beforeEach, describe } from 'vitest'
import type { Transport } from '../../../src/index.js'
import { crashSuite } from './crash.suite.js'
import { deliverySuite } from './delivery.suite.js'
import { groupsSuite } from './groups.suite.js'
import { churnSuite, orderingSuite, retryOrderSuite } from './ordering.suite.js'
import { retrySuite } from './retry.suite.js'
import { type TransportName, type TransportUnderTest, transports } from './transports.js'

export interface MessagingContext {
  readonly name: TransportName
  /** The transport of the current test, fresh and isolated. */
  transport(): Transport
  /** Everything else the factory gave for the current test. */
  subject(): TransportUnderTest
}

/** The one messaging conformance suite: every transport runs all of it. */
export function messagingConformance(name: TransportName) {
  describe(`messaging conformance: ${name}`, () => {
    let current: TransportUnderTest | undefined

    beforeEach(async () => {
      current = await transports[name].open()
    })

    afterEach(async () => {
      await current?.cleanup()
      current = undefined
    })

    afterAll(async () => {
      await transports[name].teardown?.()
    })

    const context: MessagingContext = {
      name,
      transport: () => context.subject().transport,
      subject() {
        if (current === undefined) throw new Error('no transport: called outside a test')
        return current
      },
    }

    deliverySuite(context)
    orderingSuite(context)
    churnSuite(context)
    groupsSuite(context)
    retrySuite(context)
    retryOrderSuite(context)
    crashSuite(context)
  })
}
