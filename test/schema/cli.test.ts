import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')
const cli = join(root, 'src', 'cli', 'main.ts')
// Inside the checkout, so the registry modules resolve zod and tsx from its node_modules.
const dir = join(root, '.tmp', `cli-${process.pid}`)
const published = join(dir, 'schemas.json')

/** The guide's event (docs/schemas.md) at each of its versions, as a registry module. */
const versions: Record<string, string> = {
  v1: `defineEvent('Deposited', { version: 1, schema: z.object({ amount: z.number() }) })`,
  v2: `defineEvent('Deposited', {
    version: 2,
    schema: z.object({ amount: z.number(), currency: z.enum(['EUR', 'USD']).default('EUR') }),
    upcasters: { 1: (old) => ({ ...old, currency: 'EUR' }) },
  })`,
  v3: `defineEvent('Deposited', {
    version: 3,
    schema: z.object({ amountCents: z.number().int(), currency: z.enum(['EUR', 'USD']) }),
    upcasters: {
      1: (old) => ({ ...old, currency: 'EUR' }),
      2: (old) => ({ amountCents: Math.round(old.amount * 100), currency: old.currency }),
    },
    compatibility: 'NONE',
  })`,
  v3strict: `defineEvent('Deposited', {
    version: 3,
    schema: z.object({ amountCents: z.number().int(), currency: z.enum(['EUR', 'USD']) }),
    upcasters: { 1: (old) => ({ ...old, currency: 'EUR' }), 2: (old) => ({ amountCents: Math.round(old.amount * 100), currency: old.currency }) },
  })`,
  v3wrong: `defineEvent('Deposited', {
    version: 3,
    schema: z.object({ amountCents: z.number().int(), currency: z.enum(['EUR', 'USD']) }),
    upcasters: { 1: (old) => ({ ...old, currency: 'EUR' }), 2: (old) => ({ amountCents: old.amount * 100, currency: old.currency }) },
    compatibility: 'NONE',
  })`,
  v1changed: `defineEvent('Deposited', { version: 1, schema: z.object({ amount: z.number(), note: z.string() }) })`,
}

beforeAll(() => {
  mkdirSync(dir, { recursive: true })
  for (const [name, definition] of Object.entries(versions)) {
    writeFileSync(
      join(dir, `${name}.ts`),
      `import { z } from 'zod'\nimport { createSchemaRegistry, defineEvent } from '${join(root, 'src', 'index.ts')}'\n` +
        `export const registry = createSchemaRegistry([${definition}])\n`,
    )
  }
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', cli, ...args], {
      cwd: dir,
      timeout: 60_000,
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

const schema = (command: 'check' | 'publish', version: string, ...rest: string[]) =>
  run('schema', command, '--registry', `${version}.ts`, '--published', published, '--samples', '50', ...rest)

// One story, in order: each step starts from what the one before published.
describe.sequential('eventfold schema check / publish', () => {
  it('publishes a first version', async () => {
    const result = await schema('publish', 'v1')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('published')
    expect(JSON.parse(readFileSync(published, 'utf8')).events.Deposited.versions).toHaveProperty('1')
  })

  it('fails a changed schema without a version bump, and publish writes nothing', async () => {
    const before = readFileSync(published, 'utf8')
    const result = await schema('check', 'v1changed')
    expect(result.code).toBe(1)
    expect(result.stdout).toContain('CHANGED_WITHOUT_VERSION_BUMP')
    expect(result.stdout).toContain('(changed: note)')
    expect((await schema('publish', 'v1changed')).code).toBe(1)
    expect(readFileSync(published, 'utf8')).toBe(before)
  })

  it('passes and publishes a compatible v2, checking its upcaster on samples', async () => {
    const check = await schema('check', 'v2')
    expect(check.code).toBe(0)
    expect(check.stdout).toMatch(/✓ Deposited v1 → Deposited: 50 samples/)
    expect((await schema('publish', 'v2')).code).toBe(0)
  })

  it('fails a breaking v3 under BACKWARD, naming the event and the fields, in text and JSON', async () => {
    const text = await schema('check', 'v3strict')
    expect(text.code).toBe(1)
    expect(text.stdout).toContain('✗ Deposited')
    expect(text.stdout).toContain("REQUIRED_FIELD_MISSING (v3 reading v2 events): 'amountCents': required by v3, absent from v2")
    expect(text.stdout).toContain('FAILED')
    const json = await schema('check', 'v3strict', '--json', '--mode', 'full')
    expect(json.code).toBe(1)
    const report = JSON.parse(json.stdout)
    expect(report.ok).toBe(false)
    expect(report.compatibility.mode).toBe('FULL')
    expect(report.compatibility.issues).toContainEqual(
      expect.objectContaining({ event: 'Deposited', direction: 'forward', path: 'amount', kind: 'REQUIRED_FIELD_MISSING' }),
    )
  })

  it('fails a wrong upcaster with its counterexample, even when the mode allows the break', async () => {
    const result = await schema('check', 'v3wrong', '--json')
    expect(result.code).toBe(1)
    const report = JSON.parse(result.stdout)
    expect(report.compatibility.ok).toBe(true)
    const failed = report.upcasters.results.filter((r: { status: string }) => r.status === 'failed')
    expect(failed.map((r: { fromVersion: number }) => r.fromVersion)).toEqual([1, 2])
    expect(failed[0].issues[0].path).toEqual(['amountCents'])
  })

  it('passes and publishes v3 when the event accepts the break and its upcasters hold', async () => {
    const result = await schema('publish', 'v3')
    expect(result.code).toBe(0)
    expect(Object.keys(JSON.parse(readFileSync(published, 'utf8')).events.Deposited.versions)).toEqual(['1', '2', '3'])
    expect((await schema('publish', 'v3')).stdout).toContain('already up to date')
  })

  it('exits 2 on a usage error, and prints help', async () => {
    expect((await run('schema', 'check')).code).toBe(2)
    expect((await run('schema', 'check', '--registry', 'missing.ts')).stderr).toContain('cannot load missing.ts')
    expect((await run('schema', 'check', '--registry', 'v1.ts', '--mode', 'SIDEWAYS')).code).toBe(2)
    expect((await run('nonsense')).code).toBe(2)
    const help = await run('--help')
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('eventfold schema check')
  })
})
