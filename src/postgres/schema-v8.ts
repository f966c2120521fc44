/**
 * Version 8: an index of the keyed deliveries in hand. A claim must know whether a later row of a
 * candidate's key is held (see `claim` in transport/sql.ts); without this index it read every row of
 * the key to find out, about 300 rows per candidate with a backlog of 20,000 over 64 keys. Only rows
 * in hand are in it, a few per member, so the check is one probe. `s` is the quoted schema name.
 */
export const heldKeysV8 = (s: string): string => `
CREATE INDEX transport_deliveries_held ON ${s}.transport_deliveries (group_name, partition_key)
  WHERE state = 'active' AND partition_key IS NOT NULL;
`
