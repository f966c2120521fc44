import type { DifferenceKind, Sides } from './compare.js'
import { canonicalJson, type JsonSchema } from './json-schema.js'

// Range keywords (numbers, lengths, string patterns and formats): a reader that narrows one refuses
// some payload the writer allows.

export type Report = (kind: DifferenceKind, message: string) => void

const show = (value: unknown) => canonicalJson(value)
export const where = (path: string) => (path === '' ? 'the payload' : `'${path}'`)

export const num = (value: unknown) => (typeof value === 'number' ? value : undefined)

export function lowerBound(schema: JsonSchema): { value: number; exclusive: boolean } | undefined {
  const min = num(schema.minimum)
  const exclusive = num(schema.exclusiveMinimum)
  if (exclusive !== undefined && (min === undefined || exclusive >= min)) return { value: exclusive, exclusive: true }
  return min === undefined ? undefined : { value: min, exclusive: false }
}

export function upperBound(schema: JsonSchema): { value: number; exclusive: boolean } | undefined {
  const max = num(schema.maximum)
  const exclusive = num(schema.exclusiveMaximum)
  if (exclusive !== undefined && (max === undefined || exclusive <= max)) return { value: exclusive, exclusive: true }
  return max === undefined ? undefined : { value: max, exclusive: false }
}

const bound = (b: { value: number; exclusive: boolean } | undefined, side: 'min' | 'max') =>
  b === undefined ? 'no limit' : `${side === 'min' ? (b.exclusive ? '>' : '≥') : b.exclusive ? '<' : '≤'} ${b.value}`

export function compareNumbers(w: JsonSchema, r: JsonSchema, path: string, sides: Sides, report: Report): void {
  const [wLow, rLow] = [lowerBound(w), lowerBound(r)]
  if (
    rLow !== undefined &&
    (wLow === undefined || wLow.value < rLow.value || (wLow.value === rLow.value && rLow.exclusive && !wLow.exclusive))
  ) {
    report(
      'RANGE_NARROWED',
      `${where(path)}: ${sides.reader} requires ${bound(rLow, 'min')}, ${sides.writer} allows ${bound(wLow, 'min')}`,
    )
  }
  const [wHigh, rHigh] = [upperBound(w), upperBound(r)]
  if (
    rHigh !== undefined &&
    (wHigh === undefined || wHigh.value > rHigh.value || (wHigh.value === rHigh.value && rHigh.exclusive && !wHigh.exclusive))
  ) {
    report(
      'RANGE_NARROWED',
      `${where(path)}: ${sides.reader} requires ${bound(rHigh, 'max')}, ${sides.writer} allows ${bound(wHigh, 'max')}`,
    )
  }
  const [wStep, rStep] = [num(w.multipleOf), num(r.multipleOf)]
  if (rStep !== undefined && (wStep === undefined || !Number.isInteger(wStep / rStep))) {
    report('RANGE_NARROWED', `${where(path)}: ${sides.reader} requires a multiple of ${rStep}, ${sides.writer} does not`)
  }
}

export function compareLengths(
  w: JsonSchema,
  r: JsonSchema,
  keys: [string, string],
  what: string,
  path: string,
  sides: Sides,
  report: Report,
) {
  const [min, max] = keys
  const [wMin, rMin] = [num(w[min]) ?? 0, num(r[min]) ?? 0]
  if (rMin > wMin)
    report('RANGE_NARROWED', `${where(path)}: ${sides.reader} requires at least ${rMin} ${what}, ${sides.writer} allows ${wMin}`)
  const [wMax, rMax] = [num(w[max]), num(r[max])]
  if (rMax !== undefined && (wMax === undefined || wMax > rMax)) {
    report(
      'RANGE_NARROWED',
      `${where(path)}: ${sides.reader} allows at most ${rMax} ${what}, ${sides.writer} ${wMax === undefined ? 'has no limit' : `allows ${wMax}`}`,
    )
  }
}

export function compareStrings(w: JsonSchema, r: JsonSchema, path: string, sides: Sides, report: Report): void {
  compareLengths(w, r, ['minLength', 'maxLength'], 'characters', path, sides, report)
  if (typeof r.pattern === 'string' && r.pattern !== w.pattern) {
    report(
      'PATTERN_CHANGED',
      `${where(path)}: ${sides.reader} requires the pattern ${show(r.pattern)}, ${sides.writer} ${typeof w.pattern === 'string' ? `had ${show(w.pattern)}` : 'had none'}`,
    )
  }
  if (typeof r.format === 'string' && r.format !== w.format) {
    report(
      'FORMAT_CHANGED',
      `${where(path)}: ${sides.reader} requires the format '${r.format}', ${sides.writer} ${typeof w.format === 'string' ? `had '${w.format}'` : 'had none'}`,
    )
  }
}
