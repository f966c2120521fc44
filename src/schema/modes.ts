/**
 * The compatibility modes of schema registries:
 * - `BACKWARD`: the new version can read events written with the previous one.
 * - `FORWARD`: the previous version can read events written with the new one (old consumers keep working).
 * - `FULL`: both.
 * - `*_TRANSITIVE`: the same, against every published version instead of only the latest.
 * - `NONE`: no check (the upcaster check still runs).
 */
export type CompatibilityMode =
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE'
  | 'NONE'

export const COMPATIBILITY_MODES: readonly CompatibilityMode[] = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
]

export const isCompatibilityMode = (value: unknown): value is CompatibilityMode =>
  COMPATIBILITY_MODES.includes(value as CompatibilityMode)

export const checksBackward = (mode: CompatibilityMode) => mode.startsWith('BACKWARD') || mode.startsWith('FULL')
export const checksForward = (mode: CompatibilityMode) => mode.startsWith('FORWARD') || mode.startsWith('FULL')
export const isTransitive = (mode: CompatibilityMode) => mode.endsWith('_TRANSITIVE')
