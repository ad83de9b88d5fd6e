-- Customers: one canonical customer per tenant, a profile per store, and the identity map.

CREATE TABLE customers (
  id             uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id      uuid NOT NULL REFERENCES tenants (id),
  status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked', 'merged', 'erased')),
  -- set on the tombstone of a merged customer: old references resolve to the survivor
  merged_into_id uuid,
  deleted_at     timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, merged_into_id) REFERENCES customers (tenant_id, id),
  CHECK ((status = 'merged') = (merged_into_id IS NOT NULL))
);
CREATE INDEX customers_tenant_created_idx ON customers (tenant_id, created_at);

CREATE TABLE customer_profiles (
  id          uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id   uuid NOT NULL,
  customer_id uuid NOT NULL,
  store_id    uuid NOT NULL,
  name        text NOT NULL DEFAULT '' CHECK (char_length(name) <= 200),
  name_kana   text NOT NULL DEFAULT '' CHECK (char_length(name_kana) <= 200),
  email       text CHECK (char_length(email) <= 254),
  phone       text CHECK (char_length(phone) <= 32),
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'blocked')),
  notes       text CHECK (char_length(notes) <= 10000),
  preferences jsonb NOT NULL DEFAULT '{}',
  -- bumped on every change; store sync uses it to skip stale updates
  version     bigint NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  UNIQUE (store_id, customer_id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);
CREATE INDEX customer_profiles_customer_idx ON customer_profiles (customer_id);

CREATE TABLE customer_identities (
  id             uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id      uuid NOT NULL,
  customer_id    uuid NOT NULL,
  identity_type  text NOT NULL CHECK (identity_type IN ('email', 'phone', 'external')),
  -- emails trimmed and lower-cased, phones E.164 (+819012345678)
  identity_value text NOT NULL CHECK (char_length(identity_value) BETWEEN 1 AND 320),
  verified       boolean NOT NULL DEFAULT false,
  source         text NOT NULL CHECK (source IN ('signup', 'import', 'merge', 'checkout', 'staff')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
  CHECK (identity_type <> 'email' OR identity_value = lower(btrim(identity_value))),
  CHECK (identity_type <> 'phone' OR identity_value ~ '^\+[1-9][0-9]{6,14}$')
);
-- the draft's customers(tenant_id, email), realised on the identity map
CREATE UNIQUE INDEX customer_identities_value_key ON customer_identities (tenant_id, identity_type, identity_value);
CREATE INDEX customer_identities_customer_idx ON customer_identities (customer_id);

CREATE TABLE customer_addresses (
  id              uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id       uuid NOT NULL,
  customer_id     uuid NOT NULL,
  type            text NOT NULL CHECK (type IN ('shipping', 'billing')),
  name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  name_kana       text NOT NULL DEFAULT '' CHECK (char_length(name_kana) <= 200),
  postal_code     text NOT NULL CHECK (postal_code ~ '^[0-9]{3}-[0-9]{4}$'),
  -- canonical prefecture name (東京都) and its JIS X 0401 code
  prefecture      text NOT NULL CHECK (char_length(prefecture) BETWEEN 2 AND 4),
  prefecture_code smallint NOT NULL CHECK (prefecture_code BETWEEN 1 AND 47),
  city            text NOT NULL CHECK (char_length(city) BETWEEN 1 AND 200),
  line1           text NOT NULL CHECK (char_length(line1) BETWEEN 1 AND 200),
  line2           text CHECK (char_length(line2) <= 200),
  phone           text CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
  is_default      boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
CREATE INDEX customer_addresses_customer_idx ON customer_addresses (customer_id);

CREATE TABLE store_sync_settings (
  store_id              uuid PRIMARY KEY,
  tenant_id             uuid NOT NULL,
  customer_sync_enabled boolean NOT NULL DEFAULT false,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);

CREATE TRIGGER touch BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON customer_profiles FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON customer_addresses FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON store_sync_settings FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

SELECT tenpo_secure_tenant_tables();
