/**
 * Version 6: the outbox (messages written in a service's own transaction, published by a relay)
 * and the inbox (ids of messages already handled, per consumer). `s` is the quoted schema name.
 */
export const messagingV6 = (s: string): string => `
-- The stored CloudEvent as jsonb; seq orders the outbox, and per partition key it is publish order.
CREATE TABLE ${s}.outbox (
  seq bigserial PRIMARY KEY,
  message_id text NOT NULL,
  partition_key text COLLATE "C",
  message jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz
);
-- The relay reads only what is unsent, in order; cleanup reads only what is sent, by age.
CREATE INDEX outbox_unsent ON ${s}.outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent ON ${s}.outbox (sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE ${s}.inbox (
  consumer text COLLATE "C" NOT NULL,
  message_id text COLLATE "C" NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);
CREATE INDEX inbox_received ON ${s}.inbox (received_at);
`
