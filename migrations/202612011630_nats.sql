-- NATS JetStream (docs/NATS.md): the events waiting for NATS, the destination's own queue.
-- The relay's consumer `nats.enqueue` writes one row per event in its transaction (exactly
-- once: processed_events and the primary key); the publisher claims rows with a lease, publishes
-- them with Nats-Msg-Id = the event id, and deletes each only after the server acknowledged it.
-- An outage of NATS fills only this table.
CREATE TABLE nats_outbox (
  event_id         uuid PRIMARY KEY,
  tenant_id        uuid NOT NULL,
  event_created_at timestamptz NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  -- claimed by a publisher until then; due again at available_at after a failure
  locked_until     timestamptz,
  available_at     timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  FOREIGN KEY (tenant_id, event_id) REFERENCES outbox_events (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX nats_outbox_due_idx ON nats_outbox (available_at, event_id);

-- The publishers' cross-tenant claim, oldest first, with each event as the relay reads it.
CREATE FUNCTION tenpo_claim_nats_outbox(p_limit integer, p_lease_seconds integer)
RETURNS TABLE (id uuid, tenant_id uuid, store_id uuid, aggregate_type text, aggregate_id text, event_type text,
               payload_json jsonb, sequence bigint, schema_version integer, created_at timestamptz, attempts integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH claimed AS (
    UPDATE nats_outbox n
       SET attempts = n.attempts + 1, locked_until = now() + make_interval(secs => p_lease_seconds)
     WHERE n.event_id IN (
       SELECT x.event_id FROM nats_outbox x
        WHERE x.available_at <= now() AND (x.locked_until IS NULL OR x.locked_until < now())
        ORDER BY x.event_id
        LIMIT p_limit
        FOR UPDATE SKIP LOCKED)
    RETURNING n.event_id, n.attempts)
  SELECT e.id, e.tenant_id, e.store_id, e.aggregate_type, e.aggregate_id, e.event_type, e.payload_json,
         e.sequence, e.schema_version, e.created_at, c.attempts
    FROM claimed c JOIN outbox_events e ON e.id = c.event_id
   ORDER BY e.id
$$;

-- Acknowledged by the server: done.
CREATE FUNCTION tenpo_nats_published(p_ids uuid[]) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  DELETE FROM nats_outbox WHERE event_id = ANY (p_ids)
$$;

-- Not acknowledged: due again after p_delay_secs.
CREATE FUNCTION tenpo_nats_retry(p_ids uuid[], p_error text, p_delay_secs double precision) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE nats_outbox
     SET locked_until = NULL, available_at = now() + make_interval(secs => p_delay_secs), last_error = left(p_error, 2000)
   WHERE event_id = ANY (p_ids)
$$;

-- For the metrics: events waiting for NATS and the age of the oldest.
CREATE FUNCTION tenpo_nats_backlog(OUT pending bigint, OUT oldest_secs double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT count(*), coalesce(extract(epoch FROM now() - min(event_created_at)), 0)::double precision FROM nats_outbox
$$;

SELECT tenpo_secure_tenant_tables();
