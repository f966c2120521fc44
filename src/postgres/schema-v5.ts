/**
 * Version 5: the PostgreSQL message transport's queue. `s` is the quoted schema name.
 * Publish writes one delivery row per subscribed group; consumers claim, settle and dead-letter rows.
 */
export const transportV5 = (s: string): string => `
-- Which groups take which message types. type '' stands for every type: a message type is never
-- empty (the envelope refuses it), so it cannot be mistaken for a real one.
CREATE TABLE ${s}.transport_subscriptions (
  group_name text COLLATE "C" NOT NULL,
  type text COLLATE "C" NOT NULL,
  subscribed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_name, type)
);
CREATE INDEX transport_subscriptions_by_type ON ${s}.transport_subscriptions (type);

-- One row per message and group until the group is done with it. The id orders the rows: publish
-- order within a key, and the order a group takes its messages in. Headers and body are the
-- binary-mode CloudEvent as it would travel on a broker, so an undecodable message stays bytes.
CREATE TABLE ${s}.transport_deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  group_name text COLLATE "C" NOT NULL,
  message_id text NOT NULL,
  type text COLLATE "C" NOT NULL,
  partition_key text COLLATE "C",
  headers json NOT NULL,
  content_type text,
  body bytea NOT NULL,
  state text NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'active')),
  -- Deliveries so far: a claim counts one, whether the handler then fails or its consumer dies.
  attempt int NOT NULL DEFAULT 0,
  -- A retry waits until then.
  visible_at timestamptz NOT NULL DEFAULT now(),
  -- While active: the owner's claim holds until then (a heartbeat extends it); after, anyone may take it.
  locked_until timestamptz,
  owner text,
  published_at timestamptz NOT NULL DEFAULT now()
);
-- The claim walks a group's rows in id order and stops at its LIMIT.
CREATE INDEX transport_deliveries_claim ON ${s}.transport_deliveries (group_name, id);
-- The per-key check: is there an earlier (or a held) row of this group and key?
CREATE INDEX transport_deliveries_key ON ${s}.transport_deliveries (group_name, partition_key, id)
  WHERE partition_key IS NOT NULL;

CREATE TABLE ${s}.transport_dead_letters (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The message's id, or a fresh one for a message that could not be decoded. Not unique: a message
  -- published twice (a publish retried after a lost connection) may die twice.
  id text NOT NULL,
  group_name text COLLATE "C" NOT NULL,
  type text COLLATE "C" NOT NULL,
  partition_key text COLLATE "C",
  headers json NOT NULL,
  content_type text,
  body bytea NOT NULL,
  error json NOT NULL,
  attempts int NOT NULL,
  origin text NOT NULL,
  dead_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transport_dead_letters_by_group ON ${s}.transport_dead_letters (group_name, seq);
CREATE INDEX transport_dead_letters_by_id ON ${s}.transport_dead_letters (group_name, id);
`
