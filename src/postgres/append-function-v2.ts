/**
 * Version 2 of append_batch: the same contract as version 1, but a larger batch in the common case
 * (no event id already stored, no id or stream twice in the batch) is checked and written with a
 * fixed handful of set-based statements instead of several statements per request. Group commit
 * only pays off if the cost of a batch grows slower than its size. Anything else goes to the
 * version-1 loop, kept as append_batch_sequential, whose per-request order those cases need.
 * `s` is the quoted schema name, a checked plain identifier.
 */
export const appendFunctionV2 = (s: string): string => `
ALTER FUNCTION ${s}.append_batch(bigint, text, text[], text[], int[], uuid[], text[], text[], text[])
  RENAME TO append_batch_sequential;

-- Plans inside the write functions are pinned, for two measured reasons:
-- * Every lookup on the append path is a point lookup by key. A generic plan made while the table
--   was small is a sequential scan, kept until the next ANALYZE: appends slowed with the size of
--   the log (146 appends/s at 20,000 events). Without sequential scans the index plans stay.
-- * The array parameters make the planner's generic estimates look worse than the custom ones, so
--   by default it re-plans every statement on every call: two thirds of a one-event append's time.
ALTER FUNCTION ${s}.append_batch_sequential(bigint, text, text[], text[], int[], uuid[], text[], text[], text[])
  SET enable_seqscan = off SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION ${s}.delete_stream(bigint, text, text, text)
  SET enable_seqscan = off SET plan_cache_mode = force_generic_plan;

CREATE FUNCTION ${s}.append_batch(
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
  -- The same lock as version 1, for the same reason: positions are drawn only while holding it,
  -- and a commit becomes visible before its locks are released, so readers never skip.
  PERFORM pg_advisory_xact_lock(p_lock_key);

  -- Small batches (measured: up to about 8 requests) are cheaper one by one: the set-based
  -- statements cost more to start than the per-request loop spends on a few requests.
  IF cardinality(p_streams) < 8
     OR EXISTS (SELECT 1 FROM ${s}.events e WHERE e.event_id = ANY (p_ids))
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
      SELECT r.i, p_counts[r.i] AS n, CASE WHEN st.revision >= 0 THEN st.revision END AS actual,
        CASE
          WHEN st.status = 'hard_deleted' THEN 'deleted'
          WHEN r.expected = 'any' THEN 'ok'
          WHEN r.expected = 'no_stream' THEN CASE WHEN st.revision >= 0 THEN 'wrong_revision' ELSE 'ok' END
          WHEN r.expected = 'stream_exists' THEN CASE WHEN st.revision >= 0 THEN 'ok' ELSE 'wrong_revision' END
          WHEN st.revision >= 0 AND st.revision = r.expected::bigint THEN 'ok'
          ELSE 'wrong_revision'
        END AS outcome
      FROM unnest(p_streams, p_expected) WITH ORDINALITY AS r(stream_id, expected, i)
      LEFT JOIN ${s}.streams st ON st.stream_id = r.stream_id
    ) c
  ) v;

  IF ok_total > 0 THEN
    -- A block of positions at once; safe because every nextval happens under the lock.
    first_position := nextval('${s}.positions');
    IF ok_total > 1 THEN PERFORM setval('${s}.positions', first_position + ok_total - 1); END IF;
    -- Millisecond precision, so a JavaScript Date of it compares equal to the stored value.
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

    INSERT INTO ${s}.streams AS st (stream_id, revision, status)
    SELECT p_streams[i], first_revisions[i] + p_counts[i] - 1, 'live'
    FROM generate_subscripts(p_streams, 1) AS i
    WHERE outcomes[i] = 'ok'
    ON CONFLICT (stream_id) DO UPDATE SET revision = EXCLUDED.revision, status = 'live';

    -- Delivered at commit, to every listening process; the payload is informational.
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
`
