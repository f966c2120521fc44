import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')

/** Runs the first ts block under `heading` against this checkout's source; returns its output lines. */
async function runBlock(heading: string): Promise<string[]> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const block = readme.split(heading)[1]?.match(/```ts\n([\s\S]*?)```/)?.[1]
  expect(block).toBeDefined()
  const source = (block as string).replace("from 'eventfold'", `from '${join(root, 'src/index.ts')}'`)
  mkdirSync(join(root, '.tmp'), { recursive: true })
  const file = join(root, '.tmp', `readme-${process.pid}-${heading.length}.ts`)
  writeFileSync(file, source)
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file], { cwd: root, timeout: 30_000 })
  return stdout.trim().split('\n')
}

it("runs the README's commands-and-projections example as written", async () => {
  const lines = await runBlock('## Commands, projections and processors')
  expect(lines).toEqual(['true', '{ balance: 5 }'])
}, 60_000)

it("runs the README's tour as written and prints what its comments promise", async () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const tour = readme.split('## A tour')[1]?.match(/```ts\n([\s\S]*?)```/)?.[1]
  expect(tour).toBeDefined()
  // Run against this checkout's source rather than whatever build is installed.
  const source = (tour as string).replace("from 'eventfold'", `from '${join(root, 'src/index.ts')}'`)
  mkdirSync(join(root, '.tmp'), { recursive: true })
  const file = join(root, '.tmp', `readme-tour-${process.pid}.ts`)
  writeFileSync(file, source)
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', file], { cwd: root, timeout: 30_000 })
  const lines = stdout.trim().split('\n')
  expect(lines[0]).toBe('conflict: expected 0, actual 1')
  expect(lines[1]).toBe('{ state: 100, revision: 1n } { state: 0, revision: 0n }')
  expect(lines[2]).toBe('Deposited')
  expect(lines.slice(3, 5)).toEqual(['1n Opened', '2n Deposited'])
  expect(lines.slice(5, 7)).toEqual(['seen 1n Opened', 'seen 2n Deposited'])
  expect(lines.at(-1)).toBe('true')
}, 60_000)
