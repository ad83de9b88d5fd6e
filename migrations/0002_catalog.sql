-- Catalog: products, options, variants, where they are stocked, digital settings and assets.

CREATE TABLE products (
  id          uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id   uuid NOT NULL,
  store_id    uuid NOT NULL,
  vendor_id   uuid NOT NULL,
  -- URL slug, unique per store among live products
  handle      text NOT NULL CHECK (handle ~ '^[a-z0-9][a-z0-9-]{0,199}$'),
  title       text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 255),
  description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 65536),
  status      text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'archived')),
  product_type text NOT NULL DEFAULT '' CHECK (char_length(product_type) <= 255),
  tags        text[] NOT NULL DEFAULT '{}',
  -- when the product first became active (storefront "newest" sort)
  published_at timestamptz,
  deleted_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id)
);
CREATE INDEX products_store_status_idx ON products (store_id, status);
CREATE UNIQUE INDEX products_store_handle_key ON products (store_id, handle) WHERE deleted_at IS NULL;
CREATE INDEX products_store_updated_idx ON products (store_id, updated_at, id);

-- Option names of a product (Size, Colour, ...), up to three as in Shopify's CSV layout.
CREATE TABLE product_options (
  tenant_id  uuid NOT NULL,
  product_id uuid NOT NULL,
  position   smallint NOT NULL CHECK (position BETWEEN 1 AND 3),
  name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
  PRIMARY KEY (product_id, position),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id) ON DELETE CASCADE
);

-- Files sold by digital variants; the object itself lives in the configured object store.
CREATE TABLE digital_assets (
  id           uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id    uuid NOT NULL,
  store_id     uuid NOT NULL,
  provider     text NOT NULL CHECK (provider IN ('local', 's3', 'gcs', 'other')),
  object_key   text NOT NULL CHECK (char_length(object_key) BETWEEN 1 AND 1024),
  filename     text NOT NULL CHECK (char_length(filename) BETWEEN 1 AND 255),
  content_type text NOT NULL DEFAULT 'application/octet-stream',
  size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
  sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  deleted_at   timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);

CREATE TABLE variants (
  id                  uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id           uuid NOT NULL,
  store_id            uuid NOT NULL,
  product_id          uuid NOT NULL,
  sku                 text NOT NULL CHECK (char_length(sku) BETWEEN 1 AND 100),
  title               text NOT NULL DEFAULT '' CHECK (char_length(title) <= 255),
  option1             text CHECK (char_length(option1) <= 255),
  option2             text CHECK (char_length(option2) <= 255),
  option3             text CHECK (char_length(option3) <= 255),
  position            integer NOT NULL DEFAULT 0,
  fulfillment_type    text NOT NULL DEFAULT 'physical' CHECK (fulfillment_type IN ('physical', 'digital')),
  price_amount        bigint NOT NULL CHECK (price_amount >= 0),
  price_currency      text NOT NULL CHECK (price_currency ~ '^[A-Z]{3}$'),
  compare_at_amount   bigint,
  compare_at_currency text CHECK (compare_at_currency ~ '^[A-Z]{3}$'),
  -- consumption tax class: standard 10%, reduced 8% (food, newspapers)
  tax_class           text NOT NULL DEFAULT 'standard' CHECK (tax_class IN ('standard', 'reduced')),
  -- hot variants reserve through the inventory_reservation_requests queue (flash sales)
  is_hot              boolean NOT NULL DEFAULT false,
  -- optional cap on units one customer (or cart) may hold of a hot variant
  hot_limit_per_customer integer CHECK (hot_limit_per_customer > 0),
  digital_asset_id    uuid,
  weight_grams        integer CHECK (weight_grams >= 0),
  barcode             text CHECK (char_length(barcode) <= 64),
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
  deleted_at          timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  FOREIGN KEY (tenant_id, digital_asset_id) REFERENCES digital_assets (tenant_id, id),
  CHECK ((compare_at_amount IS NULL) = (compare_at_currency IS NULL)),
  CHECK (compare_at_amount IS NULL OR (compare_at_amount > price_amount AND compare_at_currency = price_currency))
);
-- the draft's variants(product_id, sku), unique per product among live variants
CREATE UNIQUE INDEX variants_product_sku_key ON variants (product_id, sku) WHERE deleted_at IS NULL;
CREATE INDEX variants_store_idx ON variants (store_id, product_id);

CREATE TABLE product_locations (
  tenant_id   uuid NOT NULL,
  product_id  uuid NOT NULL,
  location_id uuid NOT NULL,
  PRIMARY KEY (product_id, location_id),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, location_id) REFERENCES store_locations (tenant_id, id)
);

CREATE TABLE store_digital_settings (
  store_id                uuid PRIMARY KEY,
  tenant_id               uuid NOT NULL,
  default_url_ttl_seconds integer NOT NULL DEFAULT 604800 CHECK (default_url_ttl_seconds > 0),
  default_max_downloads   integer CHECK (default_max_downloads > 0),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);

CREATE TABLE product_digital_settings (
  product_id      uuid PRIMARY KEY,
  tenant_id       uuid NOT NULL,
  url_ttl_seconds integer CHECK (url_ttl_seconds > 0),
  max_downloads   integer CHECK (max_downloads > 0),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id) ON DELETE CASCADE
);

CREATE TRIGGER touch BEFORE UPDATE ON products FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON variants FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON store_digital_settings FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch BEFORE UPDATE ON product_digital_settings FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

SELECT tenpo_secure_tenant_tables();
