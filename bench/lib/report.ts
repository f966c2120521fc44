import { appendFileSync, mkdirSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'

const stamp = new Date().toISOString().replaceAll(':', '-').slice(0, 19)
const file = join(import.meta.dirname, '..', 'results', `${stamp}.jsonl`)

export const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
}

/** One measurement: printed as a JSON line and kept under bench/results/. */
export function emit(record: Record<string, unknown>): void {
  const line = JSON.stringify({ ...record, at: new Date().toISOString() }, (_, v) => (typeof v === 'bigint' ? v.toString() : v))
  process.stdout.write(`${line}\n`)
  mkdirSync(join(import.meta.dirname, '..', 'results'), { recursive: true })
  appendFileSync(file, `${line}\n`)
}
