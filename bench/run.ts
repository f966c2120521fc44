/**
 * `npm run bench` runs every scenario; `npm run bench -- append-single catch-up` runs those named.
 * Options: `--backend postgres|sqlite` (default both), `--seconds N` per measurement (default 3),
 * `--quick` for smaller log sizes in the growth, catch-up and memory scenarios.
 */
import { parseArgs } from 'node:util'
import type { BackendName } from './lib/backends.js'
import { emit, machine } from './lib/report.js'
import { appendBatch, appendSingle } from './scenarios/append.js'
import { catchUp } from './scenarios/catch-up.js'
import { growth } from './scenarios/growth.js'
import { hotStream } from './scenarios/hot-stream.js'
import { liveLatency } from './scenarios/latency.js'
import { messaging, outboxRelay } from './scenarios/messaging.js'
import { commands, projection } from './scenarios/projection.js'
import { schemaValidation } from './scenarios/schema.js'
import { transportPostgres } from './scenarios/transport-postgres.js'

export interface BenchOptions {
  seconds: number
  quick: boolean
}

type Scenario = (backends: BackendName[], options: BenchOptions) => Promise<void>

const scenarios: Record<string, Scenario> = {
  'append-single': appendSingle,
  'append-batch': appendBatch,
  'hot-stream': hotStream,
  // catch-up also reports peak RSS (the memory scenario): both come from one pass over the log.
  'catch-up': catchUp,
  'live-latency': liveLatency,
  growth,
  projection,
  commands,
  // Appends and reads with a schema registry beside the same without one.
  schema: schemaValidation,
  messaging,
  'outbox-relay': outboxRelay,
  // PostgreSQL only: skipped unless --backend includes postgres.
  'transport-postgres': transportPostgres,
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: 'string', multiple: true },
    seconds: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
  },
})

const names = positionals.length > 0 ? positionals : Object.keys(scenarios)
const unknown = names.filter((n) => !(n in scenarios))
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`)
  process.exit(2)
}
const backends = (values.backend ?? ['postgres', 'sqlite']) as BackendName[]
const options: BenchOptions = { seconds: Number(values.seconds), quick: values.quick ?? false }

emit({ bench: 'machine', ...machine, scenarios: names, backends, ...options })
for (const name of names) await (scenarios[name] as Scenario)(backends, options)
process.exit(0)
