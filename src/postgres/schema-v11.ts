/**
 * Version 11: a delivery row's `message_id` may be NULL, and publishers leave it so. Nothing ever
 * read it (the id travels in the headers as `ce_id`, where consumers find it), and at 37 bytes it
 * was a twelfth of a typical row, written to the table and the WAL for every group a message goes
 * to. Publishers of earlier versions still fill it, which is harmless. `s` is the quoted schema name.
 */
export const optionalMessageIdV11 = (s: string): string => `
ALTER TABLE ${s}.transport_deliveries ALTER COLUMN message_id DROP NOT NULL;
`
