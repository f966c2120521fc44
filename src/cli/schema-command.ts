import { parseArgs } from 'node:util'
import { checkUpcasters, type UpcasterReport } from '../schema/check-upcasters.js'
import { type CompatibilityReport, checkCompatibility } from '../schema/compatibility.js'
import { canonicalJson } from '../schema/json-schema.js'
import { COMPATIBILITY_MODES, type CompatibilityMode, isCompatibilityMode } from '../schema/modes.js'
import { publishSchemaSet, readSchemaSet, writeSchemaSet } from '../schema/schema-set.js'
import { formatCompatibility, formatSummary, formatUpcasterResult, formatUpcasters } from './format.js'
import { loadRegistry, UsageError } from './load-registry.js'

export const SCHEMA_USAGE = `Usage:
  eventfold schema check   --registry <module> [options]   compare with the published set; exit 1 on a break
  eventfold schema publish --registry <module> [options]   check, then add the current versions to the set

Options:
  --registry <module>   module exporting the registry (.js; .ts under \`node --import tsx\`)
  --export <name>       which export is the registry (default: default, registry, or the only one)
  --published <file>    the published schema set (default: eventfold.schemas.json)
  --mode <mode>         ${COMPATIBILITY_MODES.join(', ')} (default: BACKWARD)
  --samples <n>         sample payloads per old version for the upcaster check (default: 100)
  --seed <n>            seed for the upcaster check, to reproduce a failure
  --json                print the result as JSON
`

export interface Output {
  out(text: string): void
  /** Progress and errors: kept off stdout so `--json` output stays parseable. */
  err(text: string): void
}

interface Settings {
  registry: string
  export: string | undefined
  published: string
  mode: CompatibilityMode
  samples: number
  seed: number | undefined
  json: boolean
}

function parse(args: string[]): Settings {
  const { values } = parseArgs({
    args,
    options: {
      registry: { type: 'string' },
      export: { type: 'string' },
      published: { type: 'string', default: 'eventfold.schemas.json' },
      mode: { type: 'string', default: 'BACKWARD' },
      samples: { type: 'string', default: '100' },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
  if (values.registry === undefined) throw new UsageError('--registry <module> is required')
  const mode = values.mode.toUpperCase()
  if (!isCompatibilityMode(mode)) throw new UsageError(`--mode must be one of ${COMPATIBILITY_MODES.join(', ')}`)
  const samples = Number(values.samples)
  if (!Number.isSafeInteger(samples) || samples < 1) throw new UsageError('--samples must be a whole number ≥ 1')
  const seed = values.seed === undefined ? undefined : Number(values.seed)
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw new UsageError('--seed must be a whole number')
  return { ...values, registry: values.registry, export: values.export, mode, samples, seed, json: values.json }
}

interface Outcome {
  ok: boolean
  compatibility: CompatibilityReport
  upcasters: UpcasterReport
}

async function runChecks(settings: Settings, io: Output) {
  const registry = await loadRegistry(settings.registry, settings.export)
  const published = readSchemaSet(settings.published)
  const compatibility = checkCompatibility(registry, published, { mode: settings.mode })
  const progress = !settings.json
  if (progress) io.err(`checking upcasters (${settings.samples} samples per old version)…`)
  const upcasters = await checkUpcasters(registry, published, {
    samples: settings.samples,
    seed: settings.seed,
    onResult: progress ? (result) => io.err(formatUpcasterResult(result).join('\n')) : undefined,
  })
  const outcome: Outcome = { ok: compatibility.ok && upcasters.ok, compatibility, upcasters }
  return { registry, published, outcome }
}

function report(settings: Settings, outcome: Outcome, io: Output, extra: Record<string, unknown>, heading: string) {
  if (settings.json) {
    io.out(JSON.stringify({ ...outcome, published: settings.published, ...extra }, null, 2))
    return
  }
  io.out(
    [
      heading,
      '',
      ...formatCompatibility(outcome.compatibility),
      '',
      ...formatUpcasters(outcome.upcasters),
      '',
      formatSummary(outcome.compatibility, outcome.upcasters),
    ].join('\n'),
  )
}

/** `eventfold schema check`: 0 when compatible and every upcaster chain holds, 1 otherwise. */
export async function schemaCheck(args: string[], io: Output): Promise<number> {
  const settings = parse(args)
  const { published, outcome } = await runChecks(settings, io)
  const against = published === undefined ? `${settings.published} (not published yet)` : settings.published
  report(settings, outcome, io, {}, `eventfold schema check: ${settings.mode} against ${against}`)
  return outcome.ok ? 0 : 1
}

/** `eventfold schema publish`: runs the check and writes the set only when it passes. */
export async function schemaPublish(args: string[], io: Output): Promise<number> {
  const settings = parse(args)
  const { registry, published, outcome } = await runChecks(settings, io)
  let written = false
  if (outcome.ok) {
    const next = publishSchemaSet(registry, published)
    written = published === undefined || canonicalJson(next) !== canonicalJson(published)
    if (written) writeSchemaSet(settings.published, next)
  }
  const status = !outcome.ok ? 'not published: fix the problems below' : written ? 'published' : 'already up to date'
  report(settings, outcome, io, { written }, `eventfold schema publish: ${settings.published} ${status}`)
  return outcome.ok ? 0 : 1
}
