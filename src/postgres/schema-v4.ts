/**
 * Version 4: what processors keep (partition leases with their checkpoints, members, parked
 * events) and the document read-model helper's table. `s` is the quoted schema name.
 */
export const processingV4 = (s: string): string => `
-- One row per partition: the checkpoint lives with the lease, so saving it can check the owner in
-- the same UPDATE, and that UPDATE's row lock orders it against a takeover of the partition.
CREATE TABLE ${s}.processor_partitions (
  processor text COLLATE "C" NOT NULL,
  partition int NOT NULL,
  position bigint NOT NULL,
  owner text COLLATE "C",
  lease_until bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (processor, partition)
);

CREATE TABLE ${s}.processor_members (
  processor text COLLATE "C" NOT NULL,
  member text COLLATE "C" NOT NULL,
  seen_until bigint NOT NULL,
  PRIMARY KEY (processor, member)
);

CREATE TABLE ${s}.processor_parked (
  processor text COLLATE "C" NOT NULL,
  id uuid NOT NULL,
  stream_id text COLLATE "C" NOT NULL,
  partition int NOT NULL,
  position bigint NOT NULL,
  event_id uuid NOT NULL,
  status text NOT NULL CHECK (status IN ('parked', 'held')),
  error text NOT NULL,
  attempts int NOT NULL,
  parked_at timestamptz NOT NULL,
  PRIMARY KEY (processor, id)
);
CREATE INDEX processor_parked_by_stream ON ${s}.processor_parked (processor, stream_id, status, position);

CREATE TABLE ${s}.documents (
  namespace text COLLATE "C" NOT NULL,
  collection text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  doc jsonb NOT NULL,
  PRIMARY KEY (namespace, collection, id)
);
`
