-- Digital deliveries, the transactional outbox and its consumers, webhooks, storefront
-- idempotency keys and search sync state.

CREATE TABLE digital_deliveries (
  id               uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id        uuid NOT NULL,
  order_id         uuid NOT NULL,
  order_item_id    uuid NOT NULL,
  asset_id         uuid,
  provider         text NOT NULL CHECK (provider IN ('local', 's3', 'gcs', 'other')),
  object_key       text NOT NULL,
  url_expires_at   timestamptz,
  max_downloads    integer CHECK (max_downloads > 0),
  downloaded_count integer NOT NULL DEFAULT 0 CHECK (downloaded_count >= 0),
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'expired', 'revoked')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id),
  FOREIGN KEY (tenant_id, order_item_id) REFERENCES order_items (tenant_id, id),
  FOREIGN KEY (tenant_id, asset_id) REFERENCES digital_assets (tenant_id, id),
  CHECK (max_downloads IS NULL OR downloaded_count <= max_downloads)
);
-- one delivery per digital order item however often its event is delivered
CREATE UNIQUE INDEX digital_deliveries_order_item_key ON digital_deliveries (order_item_id);
CREATE INDEX digital_deliveries_expiry_idx ON digital_deliveries (url_expires_at) WHERE status = 'active';

CREATE TABLE outbox_events (
  id              uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id       uuid NOT NULL REFERENCES tenants (id),
  store_id        uuid,
  aggregate_type  text NOT NULL CHECK (char_length(aggregate_type) BETWEEN 1 AND 64),
  aggregate_id    text NOT NULL,
  event_type      text NOT NULL CHECK (event_type ~ '^[a-z_]+\.[a-z_.]+$'),
  payload_json    jsonb NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'published', 'failed')),
  idempotency_key text,
  attempts        integer NOT NULL DEFAULT 0,
  available_at    timestamptz NOT NULL DEFAULT now(),
  locked_until    timestamptz,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  published_at    timestamptz,
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);
CREATE INDEX outbox_events_pending_idx ON outbox_events (available_at, id) WHERE status IN ('pending', 'processing');
CREATE UNIQUE INDEX outbox_events_idempotency_key ON outbox_events (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX outbox_events_aggregate_idx ON outbox_events (tenant_id, aggregate_type, aggregate_id);

CREATE TABLE processed_events (
  id           uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id    uuid NOT NULL,
  store_id     uuid,
  consumer     text NOT NULL CHECK (char_length(consumer) BETWEEN 1 AND 100),
  event_id     uuid NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (consumer, event_id),
  FOREIGN KEY (tenant_id, event_id) REFERENCES outbox_events (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);

CREATE TABLE webhook_endpoints (
  id          uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id   uuid NOT NULL,
  store_id    uuid NOT NULL,
  url         text NOT NULL CHECK (url ~ '^https?://' AND char_length(url) <= 2048),
  description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
  -- signing secret shown once at creation; used for HMAC-SHA256 signatures
  secret      text NOT NULL,
  -- event types delivered; empty means all
  event_types text[] NOT NULL DEFAULT '{}',
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id        uuid NOT NULL,
  endpoint_id      uuid NOT NULL,
  event_id         uuid NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'dead')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  locked_until     timestamptz,
  last_status_code integer,
  last_error       text,
  last_duration_ms integer,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (endpoint_id, event_id),
  FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id),
  FOREIGN KEY (tenant_id, event_id) REFERENCES outbox_events (tenant_id, id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');

-- Idempotency-Key on unsafe storefront calls: the first answer is stored and replayed.
CREATE TABLE idempotency_keys (
  tenant_id       uuid NOT NULL REFERENCES tenants (id),
  store_id        uuid NOT NULL,
  -- the operation and the resource it addresses, e.g. "checkout:<cart id>"
  scope           text NOT NULL,
  key             text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
  request_hash    bytea NOT NULL,
  response_status integer,
  response_body   jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, scope, key),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

CREATE TABLE search_sync_state (
  id                   uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id            uuid NOT NULL REFERENCES tenants (id),
  store_id             uuid,
  -- which index this state is for ("embedded", "meilisearch")
  backend              text NOT NULL DEFAULT 'embedded',
  last_product_sync_at timestamptz,
  -- reindex cursor: products are walked in (updated_at, id) order
  last_product_id      uuid,
  reindex_started_at   timestamptz,
  reindex_finished_at  timestamptz,
  updated_at           timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);
CREATE UNIQUE INDEX search_sync_state_key ON search_sync_state (tenant_id, (coalesce(store_id, '00000000-0000-0000-0000-000000000000'::uuid)), backend);

-- worker: claim a batch of due outbox events across tenants (FOR UPDATE SKIP LOCKED), leasing
-- them; an event whose lease passes without being published is claimed again.
CREATE FUNCTION tenpo_claim_outbox(p_limit integer, p_lease_seconds integer)
RETURNS SETOF outbox_events
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE outbox_events e
     SET status = 'processing',
         attempts = e.attempts + 1,
         locked_until = now() + make_interval(secs => p_lease_seconds)
   WHERE e.id IN (
     SELECT id FROM outbox_events
      WHERE available_at <= now()
        AND (status = 'pending' OR (status = 'processing' AND locked_until < now()))
      ORDER BY id
      LIMIT p_limit
      FOR UPDATE SKIP LOCKED)
  RETURNING e.*
$$;

-- wake the relay when events commit (NOTIFY is delivered at commit, once per transaction)
CREATE FUNCTION tenpo_notify_outbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tenpo_outbox', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER notify_relay AFTER INSERT ON outbox_events FOR EACH STATEMENT EXECUTE FUNCTION tenpo_notify_outbox();

CREATE TRIGGER touch BEFORE UPDATE ON digital_deliveries FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON webhook_endpoints FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON webhook_deliveries FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

SELECT tenpo_secure_tenant_tables();
