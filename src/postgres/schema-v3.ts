/**
 * Version 3: snapshots of folded stream state (handleCommand's), and a delete_stream that forgets a
 * stream's snapshots in the same transaction, wrapping version 1's function the way version 2
 * wrapped append_batch. `s` is the quoted schema name, a checked plain identifier.
 */
export const snapshotsV3 = (s: string): string => `
-- One row per stream and name. first_revision lets a loader check that the events the state was
-- folded from are still stored (no delete since); the json type keeps the text exactly as written.
CREATE TABLE ${s}.snapshots (
  stream_id text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  version bigint NOT NULL,
  revision bigint NOT NULL,
  first_revision bigint NOT NULL,
  position bigint NOT NULL,
  state json NOT NULL,
  saved_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream_id, name)
);

ALTER FUNCTION ${s}.delete_stream(bigint, text, text, text) RENAME TO delete_stream_events;

CREATE FUNCTION ${s}.delete_stream(p_lock_key bigint, p_stream text, p_mode text, p_expected text)
RETURNS TABLE (r_status text, r_revision bigint)
LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  outcome_status text;
  outcome_revision bigint;
BEGIN
  SELECT d.r_status, d.r_revision INTO outcome_status, outcome_revision
  FROM ${s}.delete_stream_events(p_lock_key, p_stream, p_mode, p_expected) d;
  -- Same transaction as the delete: a deleted stream keeps no snapshot, hard-deleted data included.
  IF outcome_status = 'ok' THEN
    DELETE FROM ${s}.snapshots sn WHERE sn.stream_id = p_stream;
  END IF;
  RETURN QUERY SELECT outcome_status, outcome_revision;
END
$fn$;
`
