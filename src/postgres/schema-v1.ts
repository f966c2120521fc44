/**
 * Version 1 of the store's schema. `s` is the quoted schema name, checked by `schemaNames` to be a
 * plain identifier, so it cannot end the `$fn$` quoting below.
 */
export const tablesV1 = (s: string): string => `
-- Positions are drawn from this sequence only while holding the schema's write lock (see append_batch).
CREATE SEQUENCE ${s}.positions AS bigint START 1;

CREATE TABLE ${s}.events (
  position bigint PRIMARY KEY,
  event_id uuid NOT NULL UNIQUE,
  -- "C": byte-wise comparison, so equality and prefix checks never depend on the server's locale.
  stream_id text COLLATE "C" NOT NULL,
  revision bigint NOT NULL,
  type text COLLATE "C" NOT NULL,
  -- json, not jsonb: the text is stored and returned exactly as written.
  data json NOT NULL,
  metadata json NOT NULL,
  recorded_at timestamptz NOT NULL,
  UNIQUE (stream_id, revision)
);
ALTER SEQUENCE ${s}.positions OWNED BY ${s}.events.position;

-- One row per stream ever written or deleted; outlives its events so revisions continue after a
-- soft delete and a hard delete leaves a tombstone (revision -1 if the stream never had events).
CREATE TABLE ${s}.streams (
  stream_id text COLLATE "C" PRIMARY KEY,
  revision bigint NOT NULL,
  status text NOT NULL CHECK (status IN ('live', 'soft_deleted', 'hard_deleted'))
);

-- The expected-revision check; actual is NULL when the stream does not exist.
CREATE FUNCTION ${s}.revision_matches(expected text, actual bigint) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  IF expected = 'any' THEN RETURN true; END IF;
  IF expected = 'no_stream' THEN RETURN actual IS NULL; END IF;
  IF expected = 'stream_exists' THEN RETURN actual IS NOT NULL; END IF;
  RETURN actual IS NOT NULL AND actual = expected::bigint;
END
$fn$;
`

export const deleteFunctionV1 = (s: string): string => `
CREATE FUNCTION ${s}.delete_stream(p_lock_key bigint, p_stream text, p_mode text, p_expected text)
RETURNS TABLE (r_status text, r_revision bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  s_revision bigint;
  s_status text;
  actual bigint;
BEGIN
  -- The appenders' lock: no append can slip in between this check and the delete.
  PERFORM pg_advisory_xact_lock(p_lock_key);
  SELECT st.revision, st.status INTO s_revision, s_status FROM ${s}.streams st WHERE st.stream_id = p_stream;
  IF s_status = 'hard_deleted' THEN
    RETURN QUERY SELECT 'deleted'::text, NULL::bigint;
    RETURN;
  END IF;
  actual := CASE WHEN s_revision >= 0 THEN s_revision END;
  IF NOT ${s}.revision_matches(p_expected, actual) THEN
    RETURN QUERY SELECT 'wrong_revision'::text, actual;
    RETURN;
  END IF;
  IF s_status IS NULL AND p_mode = 'soft' THEN
    RETURN QUERY SELECT 'ok'::text, NULL::bigint;
    RETURN;
  END IF;
  DELETE FROM ${s}.events e WHERE e.stream_id = p_stream;
  INSERT INTO ${s}.streams AS st (stream_id, revision, status)
  VALUES (p_stream, coalesce(s_revision, -1), CASE p_mode WHEN 'soft' THEN 'soft_deleted' ELSE 'hard_deleted' END)
  ON CONFLICT (stream_id) DO UPDATE SET status = EXCLUDED.status;
  RETURN QUERY SELECT 'ok'::text, NULL::bigint;
END
$fn$;
`
