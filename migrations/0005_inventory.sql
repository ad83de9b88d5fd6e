-- Inventory: stock per (variant, location), its movement history, reservations and the
-- reservation request queue for hot variants.

CREATE TABLE inventory_stocks (
  id          uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id   uuid NOT NULL,
  store_id    uuid NOT NULL,
  location_id uuid NOT NULL,
  variant_id  uuid NOT NULL,
  stock       integer NOT NULL DEFAULT 0,
  reserved    integer NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  FOREIGN KEY (tenant_id, location_id) REFERENCES store_locations (tenant_id, id),
  FOREIGN KEY (tenant_id, variant_id) REFERENCES variants (tenant_id, id),
  CONSTRAINT inventory_stocks_stock_nonnegative CHECK (stock >= 0),
  CONSTRAINT inventory_stocks_reserved_nonnegative CHECK (reserved >= 0),
  -- never oversell: what is held can never exceed what is on hand
  CONSTRAINT inventory_stocks_reserved_within_stock CHECK (reserved <= stock)
);
CREATE UNIQUE INDEX inventory_stocks_variant_location_key ON inventory_stocks (variant_id, location_id);

-- Every change to stock or reserved, from any path: who, why, by how much, and the result.
CREATE TABLE inventory_movements (
  id             uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id      uuid NOT NULL,
  store_id       uuid NOT NULL,
  stock_id       uuid NOT NULL,
  variant_id     uuid NOT NULL,
  location_id    uuid NOT NULL,
  reason         text NOT NULL CHECK (reason IN (
                   'receipt', 'correction', 'damage', 'return', 'count',          -- staff adjustments
                   'reservation', 'release', 'expiry', 'sale', 'cancellation',   -- shopper and order flow
                   'repair', 'import')),                                         -- consistency repair, catalog import
  stock_delta    integer NOT NULL,
  reserved_delta integer NOT NULL,
  stock_after    integer NOT NULL,
  reserved_after integer NOT NULL,
  actor_type     text NOT NULL CHECK (actor_type IN ('staff', 'shopper', 'system', 'operator')),
  actor_id       uuid,
  -- what caused it: a reservation, an order, a batch of hot-item decisions, ...
  reference_type text,
  reference_id   uuid,
  note           text CHECK (char_length(note) <= 500),
  created_at     timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, stock_id) REFERENCES inventory_stocks (tenant_id, id),
  CHECK (stock_delta <> 0 OR reserved_delta <> 0)
);
CREATE INDEX inventory_movements_stock_idx ON inventory_movements (stock_id, created_at);
CREATE INDEX inventory_movements_variant_idx ON inventory_movements (variant_id, created_at);

CREATE TABLE inventory_reservations (
  id              uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id       uuid NOT NULL,
  store_id        uuid NOT NULL,
  cart_id         uuid NOT NULL,
  cart_item_id    uuid,
  variant_id      uuid NOT NULL,
  location_id     uuid NOT NULL,
  stock_id        uuid NOT NULL,
  customer_id     uuid,
  quantity        integer NOT NULL CHECK (quantity > 0),
  status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'expired', 'consumed', 'released')),
  expires_at      timestamptz NOT NULL,
  -- the order that consumed it
  order_id        uuid,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  FOREIGN KEY (tenant_id, cart_id) REFERENCES carts (tenant_id, id),
  FOREIGN KEY (tenant_id, cart_item_id) REFERENCES cart_items (tenant_id, id) ON DELETE SET NULL (cart_item_id),
  FOREIGN KEY (tenant_id, variant_id) REFERENCES variants (tenant_id, id),
  FOREIGN KEY (tenant_id, stock_id) REFERENCES inventory_stocks (tenant_id, id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id)
);
CREATE INDEX inventory_reservations_expiry_idx ON inventory_reservations (expires_at) WHERE status = 'active';
CREATE INDEX inventory_reservations_cart_idx ON inventory_reservations (cart_id) WHERE status = 'active';
CREATE INDEX inventory_reservations_stock_idx ON inventory_reservations (stock_id) WHERE status = 'active';

-- The queue of reservation requests. Hot variants are decided by the worker in batches;
-- normal variants are decided at once, and the row still records the idempotency key and result.
CREATE TABLE inventory_reservation_requests (
  id               uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id        uuid NOT NULL,
  store_id         uuid NOT NULL,
  cart_id          uuid NOT NULL,
  cart_item_id     uuid,
  variant_id       uuid NOT NULL,
  customer_id      uuid,
  quantity         integer NOT NULL CHECK (quantity > 0),
  status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'processing', 'done', 'failed')),
  is_hot           boolean NOT NULL,
  idempotency_key  text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  -- outcome: the reservation granted, or why not (sold_out, limit_exceeded, ...)
  reservation_id   uuid,
  failure_code     text,
  -- worker lease: a request claimed by a worker that dies is taken up again after it passes
  claimed_by       text,
  lease_expires_at timestamptz,
  attempts         integer NOT NULL DEFAULT 0,
  decided_at       timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  FOREIGN KEY (tenant_id, cart_id) REFERENCES carts (tenant_id, id),
  FOREIGN KEY (tenant_id, cart_item_id) REFERENCES cart_items (tenant_id, id) ON DELETE SET NULL (cart_item_id),
  FOREIGN KEY (tenant_id, variant_id) REFERENCES variants (tenant_id, id),
  FOREIGN KEY (tenant_id, reservation_id) REFERENCES inventory_reservations (tenant_id, id),
  CHECK (status NOT IN ('done') OR reservation_id IS NOT NULL OR failure_code IS NULL),
  CHECK (status <> 'failed' OR failure_code IS NOT NULL)
);
-- one answer per (cart, idempotency key): a replay returns it and never reserves twice
CREATE UNIQUE INDEX inventory_reservation_requests_idempotency_key
  ON inventory_reservation_requests (tenant_id, cart_id, idempotency_key);
-- the draft's queue index
CREATE INDEX inventory_reservation_requests_queue_idx
  ON inventory_reservation_requests (status, is_hot, created_at);
CREATE INDEX inventory_reservation_requests_variant_queue_idx
  ON inventory_reservation_requests (variant_id, id) WHERE status IN ('queued', 'processing');

CREATE TRIGGER touch BEFORE UPDATE ON inventory_reservations FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

SELECT tenpo_secure_tenant_tables();
