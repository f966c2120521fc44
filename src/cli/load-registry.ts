import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { isSchemaRegistry, type SchemaRegistry } from '../schema/registry.js'

/** A problem with how the CLI was called or what it was pointed at: exit code 2, not a failed check. */
export class UsageError extends Error {}

/**
 * Imports the user's module and finds its registry: the named export, else the default export,
 * else an export called `registry`, else the only export that is a registry.
 */
export async function loadRegistry(path: string, exportName?: string): Promise<SchemaRegistry> {
  let module: Record<string, unknown>
  try {
    module = await import(pathToFileURL(resolve(path)).href)
  } catch (error) {
    const code = (error as { code?: string }).code
    const hint =
      code === 'ERR_UNKNOWN_FILE_EXTENSION'
        ? ' (a .ts module needs a loader: run `node --import tsx …eventfold …`, or point at the built .js)'
        : ''
    throw new UsageError(`cannot load ${path}: ${(error as Error).message}${hint}`)
  }
  if (exportName !== undefined) {
    if (isSchemaRegistry(module[exportName])) return module[exportName]
    throw new UsageError(`${path} has no export '${exportName}' that is a schema registry`)
  }
  if (isSchemaRegistry(module.default)) return module.default
  if (isSchemaRegistry(module.registry)) return module.registry
  const found = Object.values(module).filter(isSchemaRegistry)
  if (found.length === 1) return found[0] as SchemaRegistry
  throw new UsageError(
    found.length === 0
      ? `${path} exports no schema registry (createSchemaRegistry([...]))`
      : `${path} exports ${found.length} registries: choose one with --export <name>`,
  )
}
