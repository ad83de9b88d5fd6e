-- The event catalog (docs/EVENTS.md): every event records the version of its payload's shape
-- and its sequence number among its aggregate's events, so receivers of webhooks and NATS
-- messages can order what they get and notice a gap.

ALTER TABLE outbox_events
  ADD COLUMN schema_version integer NOT NULL DEFAULT 1 CHECK (schema_version > 0),
  -- null only on events a version before this one wrote while it was still running
  ADD COLUMN sequence bigint CHECK (sequence > 0);

-- The last number given per aggregate. events::record bumps it in the statement that inserts
-- the event; the row stays locked until that transaction ends, so one aggregate's events are
-- numbered in commit order.
CREATE TABLE outbox_sequences (
  tenant_id      uuid NOT NULL REFERENCES tenants (id),
  aggregate_type text NOT NULL,
  aggregate_id   text NOT NULL,
  last_sequence  bigint NOT NULL CHECK (last_sequence > 0),
  PRIMARY KEY (tenant_id, aggregate_type, aggregate_id)
);

-- number the events recorded so far, in id (time) order
UPDATE outbox_events e SET sequence = n.seq
  FROM (SELECT id, row_number() OVER (PARTITION BY tenant_id, aggregate_type, aggregate_id ORDER BY id) AS seq
          FROM outbox_events) n
 WHERE n.id = e.id;
INSERT INTO outbox_sequences (tenant_id, aggregate_type, aggregate_id, last_sequence)
SELECT tenant_id, aggregate_type, aggregate_id, max(sequence) FROM outbox_events GROUP BY 1, 2, 3;

SELECT tenpo_secure_tenant_tables();
