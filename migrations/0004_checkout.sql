-- Carts, promotions, orders, payments, shipments.

CREATE TABLE promotions (
  id                       uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id                uuid NOT NULL,
  store_id                 uuid NOT NULL,
  code                     text NOT NULL CHECK (code ~ '^[A-Z0-9_-]{1,64}$'),
  description              text NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
  discount_type            text NOT NULL CHECK (discount_type IN ('fixed', 'percent')),
  -- the draft's numeric value: fixed discounts in minor units + currency, percents in basis points
  value_amount             bigint CHECK (value_amount > 0),
  value_currency           text CHECK (value_currency ~ '^[A-Z]{3}$'),
  value_bps                integer CHECK (value_bps BETWEEN 1 AND 10000),
  status                   text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
  starts_at                timestamptz,
  ends_at                  timestamptz,
  min_subtotal_amount      bigint CHECK (min_subtotal_amount >= 0),
  usage_limit_total        integer CHECK (usage_limit_total > 0),
  usage_limit_per_customer integer CHECK (usage_limit_per_customer > 0),
  -- live count of usages not released; guarded by usage_limit_total under concurrency
  times_used               integer NOT NULL DEFAULT 0 CHECK (times_used >= 0),
  deleted_at               timestamptz,
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  CHECK ((discount_type = 'fixed') = (value_amount IS NOT NULL AND value_currency IS NOT NULL)),
  CHECK ((discount_type = 'percent') = (value_bps IS NOT NULL)),
  CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at),
  CHECK (usage_limit_total IS NULL OR times_used <= usage_limit_total)
);
CREATE UNIQUE INDEX promotions_store_code_key ON promotions (store_id, code) WHERE deleted_at IS NULL;

CREATE TABLE carts (
  id               uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id        uuid NOT NULL,
  store_id         uuid NOT NULL,
  customer_id      uuid,
  status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ordered', 'abandoned')),
  -- SHA-256 of the cart secret handed to the shopper; id + secret address the cart
  secret_hash      bytea NOT NULL,
  email            text CHECK (char_length(email) <= 254),
  currency         text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  promotion_id     uuid,
  last_activity_at timestamptz NOT NULL DEFAULT now(),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
  FOREIGN KEY (tenant_id, promotion_id) REFERENCES promotions (tenant_id, id)
);
CREATE INDEX carts_tenant_created_idx ON carts (tenant_id, created_at);
CREATE INDEX carts_active_activity_idx ON carts (last_activity_at) WHERE status = 'active';
CREATE INDEX carts_customer_idx ON carts (customer_id) WHERE customer_id IS NOT NULL;

CREATE TABLE cart_items (
  id             uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id      uuid NOT NULL,
  cart_id        uuid NOT NULL,
  vendor_id      uuid NOT NULL,
  variant_id     uuid NOT NULL,
  -- the draft's numeric price: the unit price when the item was added
  price_amount   bigint NOT NULL CHECK (price_amount >= 0),
  price_currency text NOT NULL CHECK (price_currency ~ '^[A-Z]{3}$'),
  quantity       integer NOT NULL CHECK (quantity > 0),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  UNIQUE (cart_id, variant_id),
  FOREIGN KEY (tenant_id, cart_id) REFERENCES carts (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id),
  FOREIGN KEY (tenant_id, variant_id) REFERENCES variants (tenant_id, id)
);

CREATE TABLE orders (
  id                    uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id             uuid NOT NULL,
  store_id              uuid NOT NULL,
  -- human order number, sequential per store (store_order_counters)
  order_number          bigint NOT NULL,
  customer_id           uuid,
  cart_id               uuid,
  email                 text NOT NULL CHECK (char_length(email) <= 254),
  status                text NOT NULL CHECK (status IN
                          ('pending_payment', 'processing', 'partially_shipped', 'shipped', 'delivered', 'completed', 'canceled')),
  currency              text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  subtotal_amount       bigint NOT NULL CHECK (subtotal_amount >= 0),
  discount_amount       bigint NOT NULL DEFAULT 0 CHECK (discount_amount >= 0),
  shipping_fee_amount   bigint NOT NULL DEFAULT 0 CHECK (shipping_fee_amount >= 0),
  cod_fee_amount        bigint NOT NULL DEFAULT 0 CHECK (cod_fee_amount >= 0),
  -- the draft's numeric total
  total_amount          bigint NOT NULL CHECK (total_amount >= 0),
  payment_method        text NOT NULL CHECK (payment_method IN ('bank_transfer', 'cod')),
  promotion_id          uuid,
  promotion_code        text,
  delivery_date         date,
  delivery_slot         text,
  -- SHA-256 of the order token that lets the shopper view the order
  token_hash            bytea NOT NULL,
  idempotency_key       text CHECK (char_length(idempotency_key) <= 255),
  cancel_reason         text CHECK (char_length(cancel_reason) <= 500),
  canceled_at           timestamptz,
  placed_at             timestamptz NOT NULL DEFAULT now(),
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  UNIQUE (store_id, order_number),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
  FOREIGN KEY (tenant_id, cart_id) REFERENCES carts (tenant_id, id),
  FOREIGN KEY (tenant_id, promotion_id) REFERENCES promotions (tenant_id, id),
  CHECK (total_amount = subtotal_amount - discount_amount + shipping_fee_amount + cod_fee_amount)
);
CREATE INDEX orders_tenant_created_idx ON orders (tenant_id, created_at);
CREATE INDEX orders_store_status_idx ON orders (store_id, status, created_at);
CREATE INDEX orders_customer_idx ON orders (customer_id) WHERE customer_id IS NOT NULL;
CREATE UNIQUE INDEX orders_idempotency_key ON orders (tenant_id, store_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX orders_cart_key ON orders (cart_id) WHERE cart_id IS NOT NULL;

CREATE TABLE order_items (
  id                 uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id          uuid NOT NULL,
  order_id           uuid NOT NULL,
  vendor_id          uuid NOT NULL,
  variant_id         uuid NOT NULL,
  -- what was sold, as it was when sold
  product_title      text NOT NULL,
  variant_title      text NOT NULL DEFAULT '',
  sku                text NOT NULL,
  fulfillment_type   text NOT NULL CHECK (fulfillment_type IN ('physical', 'digital')),
  tax_class          text NOT NULL CHECK (tax_class IN ('standard', 'reduced')),
  price_amount       bigint NOT NULL CHECK (price_amount >= 0),
  price_currency     text NOT NULL CHECK (price_currency ~ '^[A-Z]{3}$'),
  quantity           integer NOT NULL CHECK (quantity > 0),
  -- share of the order discount allocated to this line (docs/CHECKOUT.md)
  discount_amount    bigint NOT NULL DEFAULT 0 CHECK (discount_amount >= 0),
  -- location the stock was taken from, for restocking on cancellation
  location_id        uuid,
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id),
  FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id),
  FOREIGN KEY (tenant_id, variant_id) REFERENCES variants (tenant_id, id),
  FOREIGN KEY (tenant_id, location_id) REFERENCES store_locations (tenant_id, id)
);
CREATE INDEX order_items_order_idx ON order_items (order_id);

-- Consumption tax per rate, computed once per rate per order (qualified invoice rule).
CREATE TABLE order_tax_lines (
  tenant_id      uuid NOT NULL,
  order_id       uuid NOT NULL,
  rate_bps       integer NOT NULL CHECK (rate_bps IN (800, 1000)),
  -- tax-inclusive amount subject to this rate, after discount
  taxable_amount bigint NOT NULL CHECK (taxable_amount >= 0),
  tax_amount     bigint NOT NULL CHECK (tax_amount >= 0),
  PRIMARY KEY (order_id, rate_bps),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id)
);

CREATE TABLE order_addresses (
  id              uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id       uuid NOT NULL,
  order_id        uuid NOT NULL,
  type            text NOT NULL CHECK (type IN ('shipping', 'billing')),
  name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  name_kana       text NOT NULL DEFAULT '' CHECK (char_length(name_kana) <= 200),
  postal_code     text NOT NULL CHECK (postal_code ~ '^[0-9]{3}-[0-9]{4}$'),
  prefecture      text NOT NULL,
  prefecture_code smallint NOT NULL CHECK (prefecture_code BETWEEN 1 AND 47),
  city            text NOT NULL CHECK (char_length(city) BETWEEN 1 AND 200),
  line1           text NOT NULL CHECK (char_length(line1) BETWEEN 1 AND 200),
  line2           text CHECK (char_length(line2) <= 200),
  phone           text,
  UNIQUE (order_id, type),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id)
);

CREATE TABLE order_status_history (
  id          uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id   uuid NOT NULL,
  order_id    uuid NOT NULL,
  from_status text,
  to_status   text NOT NULL,
  actor_type  text NOT NULL CHECK (actor_type IN ('staff', 'shopper', 'system', 'operator')),
  actor_id    uuid,
  note        text CHECK (char_length(note) <= 1000),
  created_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id)
);
CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, created_at);

CREATE TABLE payments (
  id                  uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id           uuid NOT NULL,
  order_id            uuid NOT NULL,
  method              text NOT NULL CHECK (method IN ('bank_transfer', 'cod')),
  status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'failed')),
  -- the draft's numeric amount: what is due
  amount              bigint NOT NULL CHECK (amount >= 0),
  currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  -- what staff recorded as received; differs from amount when short or excess
  received_amount     bigint CHECK (received_amount >= 0),
  amount_mismatch     boolean NOT NULL DEFAULT false,
  due_at              timestamptz,
  confirmed_at        timestamptz,
  confirmed_by        uuid,
  -- owed back to the shopper (cancellation after payment, excess); refunds are paid offline
  refund_owed_amount  bigint NOT NULL DEFAULT 0 CHECK (refund_owed_amount >= 0),
  refunded_at         timestamptz,
  note                text CHECK (char_length(note) <= 1000),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id)
);
CREATE INDEX payments_order_idx ON payments (order_id);
CREATE INDEX payments_due_idx ON payments (due_at) WHERE status = 'pending' AND method = 'bank_transfer';

CREATE TABLE shipments (
  id           uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id    uuid NOT NULL,
  order_id     uuid NOT NULL,
  vendor_id    uuid NOT NULL,
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'shipped', 'delivered', 'canceled')),
  tracking_no  text CHECK (char_length(tracking_no) <= 100),
  carrier      text CHECK (char_length(carrier) <= 100),
  shipped_at   timestamptz,
  delivered_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  UNIQUE (order_id, vendor_id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id),
  FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id)
);

CREATE TABLE promotion_usages (
  id           uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id    uuid NOT NULL,
  promotion_id uuid NOT NULL,
  order_id     uuid NOT NULL,
  customer_id  uuid,
  email        text,
  -- set when the order is canceled: the use no longer counts toward limits
  released_at  timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (promotion_id, order_id),
  FOREIGN KEY (tenant_id, promotion_id) REFERENCES promotions (tenant_id, id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
CREATE INDEX promotion_usages_customer_idx ON promotion_usages (promotion_id, customer_id) WHERE released_at IS NULL;

CREATE TRIGGER touch BEFORE UPDATE ON promotions FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON carts FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON cart_items FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON payments FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON shipments FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

SELECT tenpo_secure_tenant_tables();
