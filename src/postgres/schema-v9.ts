/**
 * Version 9: a version number for the transport's routing (which groups take which types), so a
 * publisher can route from a copy it keeps instead of joining the subscriptions on every publish:
 * the join, the sort and the RETURNING it needed to learn the groups cost about a quarter of the
 * server's CPU per message. A publish carries the version its copy was read at and inserts only if that is
 * still current (see `publishRouted` in transport/sql.ts). A trigger bumps it on any change to the
 * subscriptions, so a change made by any process or version of eventfold, or by hand, counts.
 * `s` is the quoted schema name.
 */
export const routingVersionV9 = (s: string): string => `
CREATE TABLE ${s}.transport_routing (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  version bigint NOT NULL
);
INSERT INTO ${s}.transport_routing (version) VALUES (1);

-- Runs in the changing transaction, so the new version and the change become visible together.
-- The row lock serializes concurrent changes; publishers only read the row.
CREATE FUNCTION ${s}.transport_routing_changed() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE ${s}.transport_routing SET version = version + 1;
  RETURN NULL;
END
$fn$;
-- Per row, not per statement: a subscribe that adds nothing (ON CONFLICT DO NOTHING) changes nothing.
CREATE TRIGGER transport_routing_changed AFTER INSERT OR UPDATE OR DELETE ON ${s}.transport_subscriptions
  FOR EACH ROW EXECUTE FUNCTION ${s}.transport_routing_changed();
CREATE TRIGGER transport_routing_truncated AFTER TRUNCATE ON ${s}.transport_subscriptions
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}.transport_routing_changed();
`
