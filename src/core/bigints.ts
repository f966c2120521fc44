// Math.min and Math.max take numbers only; positions are bigints.
export const minOf = (values: Iterable<bigint>, empty: bigint): bigint => fold(values, empty, (a, b) => b < a)
export const maxOf = (values: Iterable<bigint>, empty: bigint): bigint => fold(values, empty, (a, b) => b > a)

function fold(values: Iterable<bigint>, empty: bigint, better: (a: bigint, b: bigint) => boolean): bigint {
  let result: bigint | undefined
  for (const value of values) if (result === undefined || better(result, value)) result = value
  return result ?? empty
}
