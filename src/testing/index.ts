// `eventfold/testing`: helpers for users' own tests. Kept off the main entry point, so production
// code never loads `node:assert` or test-only code.
export type { DeciderSpec, ErrorMatch, Given, Then, When } from './decider-specification.js'
export { DeciderSpecification } from './decider-specification.js'
export type { GivenEvent, ProjectionSpec, ProjectionThen } from './projection-specification.js'
export { ProjectionSpecification } from './projection-specification.js'
