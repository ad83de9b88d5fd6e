-- Merchant webhooks (docs/WEBHOOKS.md): the endpoints and deliveries of 0006 get the columns the
-- delivery worker needs, and every attempt gets a row of its own (the delivery log). No code
-- wrote these tables before, so they hold no rows to backfill.

-- Topic filters (docs/EVENTS.md) live in event_types: an exact name, a `prefix.*` or `*`.
CREATE FUNCTION tenpo_topic_matches(filters text[], event_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT EXISTS (
    SELECT 1 FROM unnest(filters) f
     WHERE f = '*' OR f = event_type OR (f LIKE '%.*' AND starts_with(event_type, left(f, -1))))
$$;

ALTER TABLE webhook_endpoints
  -- during a rotation's overlap the old secret still signs (a second signature)
  ADD COLUMN previous_secret text,
  ADD COLUMN previous_secret_expires_at timestamptz,
  -- why it was disabled: 'staff', 'gone' (the receiver answered 410) or 'failing' (for too long)
  ADD COLUMN disabled_reason text CHECK (disabled_reason IN ('staff', 'gone', 'failing')),
  -- the first failed attempt since the last success
  ADD COLUMN failing_since timestamptz,
  ADD CONSTRAINT webhook_endpoints_previous_secret CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL));
CREATE INDEX webhook_endpoints_store_idx ON webhook_endpoints (tenant_id, store_id, id);

ALTER TABLE webhook_deliveries
  DROP CONSTRAINT webhook_deliveries_status_check,
  -- pending: due at next_attempt_at; sending: claimed until locked_until; succeeded; failed: given up
  ADD CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'sending', 'succeeded', 'failed')),
  ADD COLUMN event_type text NOT NULL,
  ADD COLUMN event_created_at timestamptz NOT NULL,
  -- attempts counted before the latest resend or replay: the retry schedule restarts there
  ADD COLUMN retry_base integer NOT NULL DEFAULT 0,
  ADD COLUMN succeeded_at timestamptz,
  ADD CONSTRAINT webhook_deliveries_tenant_id_key UNIQUE (tenant_id, id);
DROP INDEX webhook_deliveries_due_idx;
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id DESC);

-- The delivery log: one row per attempt, kept `webhooks.log_retention_days` (30 by default).
CREATE TABLE webhook_attempts (
  id               uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id        uuid NOT NULL,
  delivery_id      uuid NOT NULL,
  endpoint_id      uuid NOT NULL,
  event_id         uuid NOT NULL,
  attempt          integer NOT NULL,
  outcome          text NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
  status_code      integer,
  duration_ms      integer NOT NULL,
  -- the receiver's response headers (an object of name -> value) and its body's first 4 KB
  response_headers jsonb NOT NULL DEFAULT '{}',
  response_body    text NOT NULL DEFAULT '',
  error            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
CREATE INDEX webhook_attempts_created_idx ON webhook_attempts (created_at);

ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_tenant_id_endpoint_id_fkey,
  ADD CONSTRAINT webhook_deliveries_tenant_id_endpoint_id_fkey
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE;

-- The delivery workers' cross-tenant claim: due deliveries of enabled endpoints, or ones whose
-- worker's lease passed, at most p_per_endpoint in flight per endpoint (counting those other
-- workers hold), so one slow receiver never takes every slot.
CREATE FUNCTION tenpo_claim_webhook_deliveries(p_limit integer, p_lease_seconds integer, p_per_endpoint integer)
RETURNS TABLE (id uuid, tenant_id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH busy AS (
    SELECT d.endpoint_id, count(*) AS n FROM webhook_deliveries d
     WHERE d.status = 'sending' AND d.locked_until >= now() GROUP BY d.endpoint_id
  ), due AS (
    SELECT d.id, d.endpoint_id, d.next_attempt_at,
           row_number() OVER (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id) AS rn
      FROM webhook_deliveries d
      JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.status = 'active'
     WHERE (d.status = 'pending' AND d.next_attempt_at <= now())
        OR (d.status = 'sending' AND d.locked_until < now())
  ), picked AS (
    SELECT due.id FROM due LEFT JOIN busy USING (endpoint_id)
     WHERE due.rn + coalesce(busy.n, 0) <= p_per_endpoint
     ORDER BY due.next_attempt_at
     LIMIT p_limit
  )
  UPDATE webhook_deliveries w
     SET status = 'sending',
         attempts = w.attempts + 1,
         locked_until = now() + make_interval(secs => p_lease_seconds)
   WHERE w.id IN (SELECT x.id FROM webhook_deliveries x WHERE x.id IN (SELECT id FROM picked) FOR UPDATE SKIP LOCKED)
  RETURNING w.id, w.tenant_id
$$;

-- The purge job: attempts older than the retention, and finished deliveries left without any.
CREATE FUNCTION tenpo_purge_webhook_log(p_days integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  n bigint;
BEGIN
  DELETE FROM webhook_attempts WHERE created_at < now() - make_interval(days => p_days);
  GET DIAGNOSTICS n = ROW_COUNT;
  DELETE FROM webhook_deliveries d
   WHERE d.status IN ('succeeded', 'failed') AND d.updated_at < now() - make_interval(days => p_days)
     AND NOT EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = d.id);
  RETURN n;
END
$$;

-- For the metrics: the outbox backlog and the age of the oldest event or delivery waiting.
CREATE FUNCTION tenpo_event_backlog()
RETURNS TABLE (outbox_pending bigint, outbox_oldest_secs double precision,
               webhooks_pending bigint, webhooks_oldest_secs double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT (SELECT count(*) FROM outbox_events WHERE status IN ('pending', 'processing')),
         (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::double precision
            FROM outbox_events WHERE status IN ('pending', 'processing')),
         (SELECT count(*) FROM webhook_deliveries WHERE status IN ('pending', 'sending')),
         (SELECT coalesce(extract(epoch FROM now() - min(event_created_at)), 0)::double precision
            FROM webhook_deliveries WHERE status IN ('pending', 'sending'))
$$;

SELECT tenpo_secure_tenant_tables();
