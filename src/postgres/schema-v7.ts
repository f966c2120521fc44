/**
 * Version 7: a stream's revision is read from the events' own (stream_id, revision) index instead
 * of a `streams` row upserted on every append. That row cost a second heap tuple, a second index
 * entry and their WAL on every append; the index probe that replaces it is nearly free. `streams`
 * now holds only tombstones: a deleted stream's last revision (so revisions continue after a soft
 * delete) and whether it was hard-deleted. `s` is the quoted schema name, a checked plain identifier.
 *
 * A stream's state is therefore: hard-deleted if its tombstone says so; otherwise its revision is
 * that of its last stored event, or, with no events left, the revision its tombstone kept.
 */
export const derivedStreamsV7 = (s: string): string => `
DELETE FROM ${s}.streams WHERE status = 'live';

-- Same contract and checks as version 1's loop; see there for the lock and the idempotent retry.
CREATE OR REPLACE FUNCTION ${s}.append_batch_sequential(
  p_lock_key bigint, p_channel text, p_streams text[], p_expected text[], p_counts int[],
  p_ids uuid[], p_types text[], p_data text[], p_metadata text[])
RETURNS TABLE (r_status text, r_revision bigint, r_position bigint, r_duplicate uuid)
LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  offs int := 0;
  n int;
  req_ids uuid[];
  found_count int;
  first_revision bigint;
  wanted_first bigint;
  t_revision bigint;
  t_status text;
  actual bigint;
  expected text;
  first_position bigint;
  last_position bigint;
  recorded timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(p_lock_key);
  -- Millisecond precision, so a JavaScript Date of it compares equal to the stored value. Taken
  -- under the lock, so recorded times never go backwards along positions.
  recorded := date_trunc('milliseconds', clock_timestamp());
  FOR i IN 1 .. coalesce(array_length(p_streams, 1), 0) LOOP
    n := p_counts[i];
    req_ids := p_ids[offs + 1 : offs + n];

    IF EXISTS (SELECT 1 FROM ${s}.events e WHERE e.event_id = ANY (req_ids)) THEN
      SELECT count(*) INTO found_count FROM ${s}.events e WHERE e.event_id = ANY (req_ids);
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

    -- max() on the (stream_id, revision) index is one backward index probe.
    SELECT max(e.revision) INTO actual FROM ${s}.events e WHERE e.stream_id = p_streams[i];
    t_status := NULL;
    SELECT st.revision, st.status INTO t_revision, t_status FROM ${s}.streams st WHERE st.stream_id = p_streams[i];
    IF actual IS NULL AND t_revision >= 0 THEN actual := t_revision; END IF;
    expected := p_expected[i];
    IF t_status = 'hard_deleted' THEN
      RETURN QUERY SELECT 'deleted'::text, NULL::bigint, NULL::bigint, NULL::uuid;
    ELSIF NOT coalesce(CASE expected
        WHEN 'any' THEN true
        WHEN 'no_stream' THEN actual IS NULL
        WHEN 'stream_exists' THEN actual IS NOT NULL
        ELSE actual = expected::bigint END, false) THEN
      RETURN QUERY SELECT 'wrong_revision'::text, actual, NULL::bigint, NULL::uuid;
    ELSE
      first_revision := coalesce(actual, -1) + 1;
      -- A block of n positions at once; safe because every nextval happens under the lock.
      first_position := nextval('${s}.positions');
      IF n = 1 THEN
        INSERT INTO ${s}.events (position, event_id, stream_id, revision, type, data, metadata, recorded_at)
        VALUES (first_position, req_ids[1], p_streams[i], first_revision, p_types[offs + 1],
                p_data[offs + 1]::json, p_metadata[offs + 1]::json, recorded);
      ELSE
        PERFORM setval('${s}.positions', first_position + n - 1);
        INSERT INTO ${s}.events (position, event_id, stream_id, revision, type, data, metadata, recorded_at)
        SELECT first_position + u.k - 1, u.id, p_streams[i], first_revision + u.k - 1, u.t, u.d::json, u.m::json, recorded
        FROM unnest(req_ids, p_types[offs + 1 : offs + n], p_data[offs + 1 : offs + n], p_metadata[offs + 1 : offs + n])
          WITH ORDINALITY AS u(id, t, d, m, k);
      END IF;
      last_position := first_position + n - 1;
      RETURN QUERY SELECT 'ok'::text, first_revision + n - 1, last_position, NULL::uuid;
    END IF;
    offs := offs + n;
  END LOOP;
  -- Delivered at commit, to every listening process; the payload is informational.
  IF last_position IS NOT NULL THEN PERFORM pg_notify(p_channel, last_position::text); END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION ${s}.append_batch(
  p_lock_key bigint, p_channel text, p_streams text[], p_expected text[], p_counts int[],
  p_ids uuid[], p_types text[], p_data text[], p_metadata text[])
RETURNS TABLE (r_status text, r_revision bigint, r_position bigint, r_duplicate uuid)
LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  outcomes text[];
  actuals bigint[];
  first_revisions bigint[];
  ok_before bigint[];
  ok_total bigint;
  first_position bigint;
  recorded timestamptz;
BEGIN
  -- Small batches (measured: up to about 8 requests) are cheaper one by one: the set-based
  -- statements cost more to start than the per-request loop spends on a few requests. The loop
  -- takes the lock itself.
  IF cardinality(p_streams) < 8 THEN
    RETURN QUERY SELECT * FROM ${s}.append_batch_sequential(
      p_lock_key, p_channel, p_streams, p_expected, p_counts, p_ids, p_types, p_data, p_metadata);
    RETURN;
  END IF;

  -- Positions are drawn only under this lock, and a commit becomes visible before its locks are
  -- released, so readers polling "position > P" never skip.
  PERFORM pg_advisory_xact_lock(p_lock_key);

  IF EXISTS (SELECT 1 FROM ${s}.events e WHERE e.event_id = ANY (p_ids))
     OR (SELECT count(DISTINCT x) FROM unnest(p_ids) x) <> cardinality(p_ids)
     OR (SELECT count(DISTINCT x) FROM unnest(p_streams) x) <> cardinality(p_streams) THEN
    RETURN QUERY SELECT * FROM ${s}.append_batch_sequential(
      p_lock_key, p_channel, p_streams, p_expected, p_counts, p_ids, p_types, p_data, p_metadata);
    RETURN;
  END IF;

  -- Every request's verdict at once; streams are distinct here, so requests cannot affect each other.
  SELECT array_agg(v.outcome ORDER BY v.i), array_agg(v.actual ORDER BY v.i),
         array_agg(coalesce(v.actual, -1) + 1 ORDER BY v.i),
         array_agg(coalesce(v.ok_through, 0) - CASE WHEN v.outcome = 'ok' THEN v.n ELSE 0 END ORDER BY v.i),
         coalesce(sum(CASE WHEN v.outcome = 'ok' THEN v.n END), 0)
    INTO outcomes, actuals, first_revisions, ok_before, ok_total
  FROM (
    SELECT c.i, c.n, c.outcome, c.actual,
           sum(CASE WHEN c.outcome = 'ok' THEN c.n ELSE 0 END) OVER (ORDER BY c.i) AS ok_through
    FROM (
      SELECT r.i, p_counts[r.i] AS n, h.actual,
        CASE
          WHEN st.status = 'hard_deleted' THEN 'deleted'
          WHEN r.expected = 'any' THEN 'ok'
          WHEN r.expected = 'no_stream' THEN CASE WHEN h.actual IS NULL THEN 'ok' ELSE 'wrong_revision' END
          WHEN r.expected = 'stream_exists' THEN CASE WHEN h.actual IS NOT NULL THEN 'ok' ELSE 'wrong_revision' END
          WHEN h.actual = r.expected::bigint THEN 'ok'
          ELSE 'wrong_revision'
        END AS outcome
      FROM unnest(p_streams, p_expected) WITH ORDINALITY AS r(stream_id, expected, i)
      LEFT JOIN ${s}.streams st ON st.stream_id = r.stream_id
      CROSS JOIN LATERAL (
        SELECT coalesce(
          (SELECT max(e.revision) FROM ${s}.events e WHERE e.stream_id = r.stream_id),
          CASE WHEN st.revision >= 0 THEN st.revision END) AS actual
      ) h
    ) c
  ) v;

  IF ok_total > 0 THEN
    -- A block of positions at once; safe because every nextval happens under the lock.
    first_position := nextval('${s}.positions');
    IF ok_total > 1 THEN PERFORM setval('${s}.positions', first_position + ok_total - 1); END IF;
    recorded := date_trunc('milliseconds', clock_timestamp());

    INSERT INTO ${s}.events (position, event_id, stream_id, revision, type, data, metadata, recorded_at)
    SELECT first_position + ok_before[x.req] + x.k - 1, u.id, p_streams[x.req],
           first_revisions[x.req] + x.k - 1, u.t, u.d::json, u.m::json, recorded
    FROM unnest(p_ids, p_types, p_data, p_metadata) WITH ORDINALITY AS u(id, t, d, m, j)
    JOIN (
      SELECT c.i AS req, g.k, row_number() OVER (ORDER BY c.i, g.k) AS j
      FROM unnest(p_counts) WITH ORDINALITY AS c(n, i), generate_series(1, c.n) AS g(k)
    ) x ON x.j = u.j
    WHERE outcomes[x.req] = 'ok';

    PERFORM pg_notify(p_channel, (first_position + ok_total - 1)::text);
  END IF;

  RETURN QUERY
  SELECT outcomes[i],
         CASE outcomes[i] WHEN 'ok' THEN first_revisions[i] + p_counts[i] - 1 WHEN 'wrong_revision' THEN actuals[i] END,
         CASE WHEN outcomes[i] = 'ok' THEN first_position + ok_before[i] + p_counts[i] - 1 END,
         NULL::uuid
  FROM generate_subscripts(p_streams, 1) AS i
  ORDER BY i;
END
$fn$;

-- Version 1's delete with the state read the same way; the tombstone now records the revision at
-- the delete, since appends after a soft delete no longer keep it current.
CREATE OR REPLACE FUNCTION ${s}.delete_stream_events(p_lock_key bigint, p_stream text, p_mode text, p_expected text)
RETURNS TABLE (r_status text, r_revision bigint)
LANGUAGE plpgsql SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  t_revision bigint;
  t_status text;
  last_revision bigint;
  actual bigint;
BEGIN
  -- The appenders' lock: no append can slip in between this check and the delete.
  PERFORM pg_advisory_xact_lock(p_lock_key);
  SELECT st.revision, st.status INTO t_revision, t_status FROM ${s}.streams st WHERE st.stream_id = p_stream;
  IF t_status = 'hard_deleted' THEN
    RETURN QUERY SELECT 'deleted'::text, NULL::bigint;
    RETURN;
  END IF;
  SELECT max(e.revision) INTO last_revision FROM ${s}.events e WHERE e.stream_id = p_stream;
  actual := coalesce(last_revision, CASE WHEN t_revision >= 0 THEN t_revision END);
  IF NOT ${s}.revision_matches(p_expected, actual) THEN
    RETURN QUERY SELECT 'wrong_revision'::text, actual;
    RETURN;
  END IF;
  IF last_revision IS NULL AND t_status IS NULL AND p_mode = 'soft' THEN
    RETURN QUERY SELECT 'ok'::text, NULL::bigint;
    RETURN;
  END IF;
  DELETE FROM ${s}.events e WHERE e.stream_id = p_stream;
  INSERT INTO ${s}.streams AS st (stream_id, revision, status)
  VALUES (p_stream, coalesce(actual, -1), CASE p_mode WHEN 'soft' THEN 'soft_deleted' ELSE 'hard_deleted' END)
  ON CONFLICT (stream_id) DO UPDATE SET revision = EXCLUDED.revision, status = EXCLUDED.status;
  RETURN QUERY SELECT 'ok'::text, NULL::bigint;
END
$fn$;
`
