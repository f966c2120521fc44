// Math.min and Math.max take numbers only; positions are bigints.
export const minOf = (values: Iterable<bigint>, empty: bigint): bigint => fold(values, empty, (a, b) => (b < a ? b : a))
export const maxOf = (values: Iterable<bigint>, empty: bigint): bigint => fold(values, empty, (a, b) => (b > a ? b : a))

function fold(values: Iterable<bigint>, empty: bigint, pick: (a: bigint, b: bigint) => bigint): bigint {
  let result: bigint | undefined
  for (const value of values) result = result === undefined ? value : pick(result, value)
  return result ?? empty
}
