const INT8 = 20

/**
 * The adapter's own type parsers, set per pool, so a global `pg.types.setTypeParser` elsewhere in
 * the application cannot change what the store returns. int8 becomes bigint; everything else stays
 * text and is converted where it is read.
 */
export const typeParsers = {
  getTypeParser: (oid: number) => (oid === INT8 ? (text: string) => BigInt(text) : (text: string) => text),
}
