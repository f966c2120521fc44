/**
 * One request of the per-request loop that names an event id already stored: either a retry of an
 * append that committed (every id stored, in order, where this append would put them), answered
 * with its original result, or a duplicate id. Expects the loop's variables i, n, offs, req_ids,
 * found_count, first_revision and wanted_first. Shared by every version of the loop.
 */
export const retriedRequest = (
  s: string,
): string => `    SELECT count(*) INTO found_count FROM ${s}.events e WHERE e.event_id = ANY (req_ids);
    IF found_count > 0 THEN
      -- A retry of a committed append: every id stored, in order, where this append would put them.
      SELECT e.revision INTO first_revision FROM ${s}.events e
      WHERE e.event_id = req_ids[1] AND e.stream_id = p_streams[i];
      IF p_expected[i] = 'no_stream' THEN wanted_first := 0;
      ELSIF p_expected[i] IN ('any', 'stream_exists') THEN wanted_first := first_revision;
      ELSE wanted_first := p_expected[i]::bigint + 1;
      END IF;
      IF found_count = n AND first_revision = wanted_first AND n = (
        SELECT count(*) FROM unnest(req_ids) WITH ORDINALITY AS u(id, k)
        JOIN ${s}.events e ON e.event_id = u.id
        WHERE e.stream_id = p_streams[i] AND e.revision = first_revision + u.k - 1)
      THEN
        RETURN QUERY SELECT 'ok'::text, e.revision, e.position, NULL::uuid
        FROM ${s}.events e WHERE e.event_id = req_ids[n];
      ELSE
        RETURN QUERY SELECT 'duplicate'::text, NULL::bigint, NULL::bigint, u.id
        FROM unnest(req_ids) WITH ORDINALITY AS u(id, k)
        WHERE EXISTS (SELECT 1 FROM ${s}.events e WHERE e.event_id = u.id)
        ORDER BY u.k LIMIT 1;
      END IF;
      offs := offs + n;
      CONTINUE;
    END IF;
`

/**
 * The group-commit append: one call writes a whole batch of append requests, each checked like
 * `decideAppend` in core. Requests are flat parallel arrays; `p_counts[i]` events belong to request
 * i. A request that fails its checks returns a status row instead of raising, so it never rolls
 * back the others. `s` is the quoted schema name (a plain identifier).
 */
export const appendFunctionV1 = (s: string): string => `
CREATE FUNCTION ${s}.append_batch(
  p_lock_key bigint, p_channel text, p_streams text[], p_expected text[], p_counts int[],
  p_ids uuid[], p_types text[], p_data text[], p_metadata text[])
RETURNS TABLE (r_status text, r_revision bigint, r_position bigint, r_duplicate uuid)
LANGUAGE plpgsql AS $fn$
DECLARE
  offs int := 0;
  n int;
  req_ids uuid[];
  found_count int;
  first_revision bigint;
  wanted_first bigint;
  s_revision bigint;
  s_status text;
  actual bigint;
  first_position bigint;
  last_position bigint;
  recorded timestamptz;
BEGIN
  -- Positions are drawn only under this lock, and PostgreSQL makes a commit visible before it
  -- releases the transaction's locks. So batches become visible in position order, and a reader
  -- polling "position > P" can never see P+2 committed while a slow P+1 is still to come.
  PERFORM pg_advisory_xact_lock(p_lock_key);
  FOR i IN 1 .. coalesce(array_length(p_streams, 1), 0) LOOP
    n := p_counts[i];
    req_ids := p_ids[offs + 1 : offs + n];

${retriedRequest(s)}
    SELECT st.revision, st.status INTO s_revision, s_status FROM ${s}.streams st WHERE st.stream_id = p_streams[i];
    actual := CASE WHEN s_revision >= 0 THEN s_revision END;
    IF s_status = 'hard_deleted' THEN
      RETURN QUERY SELECT 'deleted'::text, NULL::bigint, NULL::bigint, NULL::uuid;
    ELSIF NOT ${s}.revision_matches(p_expected[i], actual) THEN
      RETURN QUERY SELECT 'wrong_revision'::text, actual, NULL::bigint, NULL::uuid;
    ELSE
      first_revision := coalesce(s_revision, -1) + 1;
      -- A block of n positions at once; safe because every nextval happens under the lock.
      first_position := nextval('${s}.positions');
      IF n > 1 THEN PERFORM setval('${s}.positions', first_position + n - 1); END IF;
      last_position := first_position + n - 1;
      -- Millisecond precision, so a JavaScript Date of it compares equal to the stored value.
      recorded := date_trunc('milliseconds', clock_timestamp());
      INSERT INTO ${s}.events (position, event_id, stream_id, revision, type, data, metadata, recorded_at)
      SELECT first_position + u.k - 1, u.id, p_streams[i], first_revision + u.k - 1, u.t, u.d::json, u.m::json, recorded
      FROM unnest(req_ids, p_types[offs + 1 : offs + n], p_data[offs + 1 : offs + n], p_metadata[offs + 1 : offs + n])
        WITH ORDINALITY AS u(id, t, d, m, k);
      INSERT INTO ${s}.streams AS st (stream_id, revision, status) VALUES (p_streams[i], first_revision + n - 1, 'live')
      ON CONFLICT (stream_id) DO UPDATE SET revision = EXCLUDED.revision, status = 'live';
      RETURN QUERY SELECT 'ok'::text, first_revision + n - 1, last_position, NULL::uuid;
    END IF;
    offs := offs + n;
  END LOOP;
  -- Delivered at commit, to every listening process; the payload is informational.
  IF last_position IS NOT NULL THEN PERFORM pg_notify(p_channel, last_position::text); END IF;
END
$fn$;
`
