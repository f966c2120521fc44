import type { Transport } from '../../../src/index.js'
import { createInMemoryTransport } from '../../../src/index.js'

/**
 * How a suite proves at-least-once delivery when a consumer dies mid-handling. A broker transport
 * kills a real child process with SIGKILL; a transport whose messages live in the process cannot
 * survive that by design, so it runs the closest thing it has, and says why.
 */
export type CrashProof = { kind: 'sigkill'; childEnv: Record<string, string> } | { kind: 'stop-without-ack'; reason: string }

export interface TransportUnderTest {
  transport: Transport
  /** Another client of the same namespace, as a second service process would have. Closed by `cleanup`. */
  connect(): Promise<Transport>
  /** Puts bytes that are no CloudEvent where a consumer of `type` will receive them. */
  publishUndecodable(type: string): Promise<void>
  crash: CrashProof
  /** Closes every client and removes everything the test created on the broker. */
  cleanup(): Promise<void>
}

export type TransportFactory = () => Promise<TransportUnderTest>

/**
 * Every transport, by name. A new transport is a compile error here until it has a factory, and
 * then it runs the whole messaging conformance suite.
 */
export type TransportName = 'memory'

export const transports: Record<TransportName, TransportFactory> = {
  async memory() {
    const transport = createInMemoryTransport()
    return {
      transport,
      // One process, one transport: a "second service" shares it, as two modules of one app would.
      connect: async () => transport,
      publishUndecodable: (type) =>
        transport.publishRaw({
          type,
          headers: { ce_specversion: '1.0', ce_type: type },
          contentType: 'application/json',
          body: Buffer.from('{not json'),
        }),
      crash: {
        kind: 'stop-without-ack',
        reason:
          'messages live in this process, so no other process can take over; a consumer stopped mid-handling whose handler never settles stands in for the kill',
      },
      cleanup: () => transport.close(),
    }
  },
}
