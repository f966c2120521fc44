// `eventfold/schema`: the schema tooling (JSON Schema sets, compatibility, the upcaster check).
// Definitions and the registry are also exported from `eventfold`, which never loads fast-check.

export type { UpcasterCheckOptions, UpcasterCheckResult, UpcasterReport } from './check-upcasters.js'
export { checkUpcasters } from './check-upcasters.js'
export type { DifferenceKind, SchemaDifference, Sides } from './compare.js'
export type {
  CompatibilityIssue,
  CompatibilityIssueKind,
  CompatibilityReport,
  DirectedDifference,
  Direction,
  EventCompatibility,
} from './compatibility.js'
export { checkCompatibility, compareSchemas } from './compatibility.js'
export type {
  AnyEventDefinition,
  DefineEventOptions,
  EventDefinition,
  Replacement,
  RetiredEventDefinition,
  RetireEventOptions,
  Upcaster,
  Upcasters,
} from './define.js'
export { defineEvent, retireEvent } from './define.js'
export type { SchemaIssue } from './errors.js'
export { InvalidEventError, SchemaDefinitionError, UnknownEventTypeError, UpcastError } from './errors.js'
export type { JsonSchema, JsonSchemaConverter } from './json-schema.js'
export { canonicalJson, JSON_SCHEMA_DIALECT, sameSchema } from './json-schema.js'
export type { CompatibilityMode } from './modes.js'
export { COMPATIBILITY_MODES, isCompatibilityMode } from './modes.js'
export type { EventOf, SchemaRegistryOptions } from './registry.js'
export { createSchemaRegistry, isSchemaRegistry, type SchemaRegistry } from './registry.js'
export { arbitraryFromJsonSchema } from './sample.js'
export type { PublishedEvent, SchemaSet } from './schema-set.js'
export {
  emptySchemaSet,
  exportSchemaSet,
  mergeSchemaSets,
  parseSchemaSet,
  publishSchemaSet,
  readSchemaSet,
  SCHEMA_SET_FORMAT,
  writeSchemaSet,
} from './schema-set.js'
export { SCHEMA_VERSION_KEY } from './upcast.js'
