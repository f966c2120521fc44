/**
 * Version 10: the delivery table's primary key is (group_name, id), and the claim walks it, so the
 * separate claim index on the same columns goes. A keyed row went into three indexes when it was
 * published; one fewer cut the server's CPU per published message by about a sixth
 * (17.0 against 20.4 µs, medians of 5 runs in batches of 10). Every statement that addresses a
 * row names its group now. Consumers of an earlier version address rows by id alone, which this
 * key cannot find without reading the table: upgrade them together (docs/messaging.md).
 * `s` is the quoted schema name.
 */
export const groupKeyV10 = (s: string): string => `
ALTER TABLE ${s}.transport_deliveries DROP CONSTRAINT transport_deliveries_pkey;
ALTER TABLE ${s}.transport_deliveries ADD CONSTRAINT transport_deliveries_pkey PRIMARY KEY (group_name, id);
DROP INDEX ${s}.transport_deliveries_claim;
`
