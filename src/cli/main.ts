#!/usr/bin/env node
import { isEventfoldError } from '../core/errors.js'
import { UsageError } from './load-registry.js'
import { type Output, SCHEMA_USAGE, schemaCheck, schemaPublish } from './schema-command.js'

const commands: Record<string, (args: string[], io: Output) => Promise<number>> = {
  'schema check': schemaCheck,
  'schema publish': schemaPublish,
}

/** Runs one command line; returns the exit code (0 ok, 1 a failed check, 2 anything that kept the check from running). */
async function main(argv: string[], io: Output): Promise<number> {
  const [group, name, ...rest] = argv
  if (group === undefined || group === '--help' || group === '-h' || name === '--help' || name === '-h') {
    io.out(SCHEMA_USAGE)
    return group === undefined ? 2 : 0
  }
  const command = commands[`${group} ${name ?? ''}`]
  if (command === undefined) {
    io.err(`unknown command: ${[group, name].filter(Boolean).join(' ')}\n\n${SCHEMA_USAGE}`)
    return 2
  }
  try {
    return await command(rest, io)
  } catch (error) {
    // parseArgs signals bad options with ERR_PARSE_ARGS_* codes.
    const usage = error instanceof UsageError || String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')
    if (!usage && !isEventfoldError(error)) throw error
    io.err(
      `eventfold: ${(error as Error).message}${(error as Error).cause instanceof Error ? `: ${((error as Error).cause as Error).message}` : ''}`,
    )
    return 2
  }
}

const io: Output = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
}

process.exitCode = await main(process.argv.slice(2), io)
