-- Product images (crates/catalog::image, bytes through crates/images): the original in object
-- storage, its renditions, a variant's image, and the products' SEO title and description.

ALTER TABLE products
  ADD COLUMN seo_title text CHECK (char_length(seo_title) <= 255),
  ADD COLUMN seo_description text CHECK (char_length(seo_description) <= 1000);

-- One row per image of a product, in `position` order. An uploaded image has its original
-- (object_key, format, dimensions) from the start; an imported one (CSV Image Src) starts with
-- only source_url and gets its original when the worker has fetched it. The row is also the
-- worker's queue: status 'pending' until its renditions exist ('ready'), 'failed' after the
-- last attempt (last_error says why). locked_until is the lease of the worker working on it.
CREATE TABLE product_images (
  id           uuid PRIMARY KEY,
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  store_id     uuid NOT NULL,
  product_id   uuid NOT NULL,
  position     integer NOT NULL CHECK (position >= 1),
  alt          text NOT NULL DEFAULT '' CHECK (char_length(alt) <= 512),
  source_url   text CHECK (char_length(source_url) <= 2048),
  provider     text CHECK (provider IN ('local', 's3', 'gcs')),
  object_key   text CHECK (char_length(object_key) BETWEEN 1 AND 1024),
  content_type text CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
  width        integer CHECK (width > 0),
  height       integer CHECK (height > 0),
  size_bytes   bigint CHECK (size_bytes >= 0),
  sha256       text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'failed')),
  attempts     integer NOT NULL DEFAULT 0,
  available_at timestamptz NOT NULL DEFAULT now(),
  locked_until timestamptz,
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  UNIQUE (tenant_id, product_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id) ON DELETE CASCADE,
  CHECK (source_url IS NOT NULL OR object_key IS NOT NULL),
  CHECK ((object_key IS NULL) = (width IS NULL) AND (object_key IS NULL) = (content_type IS NULL))
);
CREATE INDEX product_images_product_idx ON product_images (product_id, position, id);
CREATE INDEX product_images_due_idx ON product_images (available_at) WHERE status = 'pending';

-- A resized copy of an image, one per width below the original's (never upscaled).
CREATE TABLE product_image_renditions (
  tenant_id  uuid NOT NULL,
  image_id   uuid NOT NULL,
  width      integer NOT NULL CHECK (width > 0),
  height     integer NOT NULL CHECK (height > 0),
  object_key text NOT NULL CHECK (char_length(object_key) BETWEEN 1 AND 1024),
  size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (image_id, width),
  FOREIGN KEY (tenant_id, image_id) REFERENCES product_images (tenant_id, id) ON DELETE CASCADE
);

-- A variant's image is one of its own product's images (the composite key says so); deleting
-- the image clears it.
ALTER TABLE variants
  ADD COLUMN image_id uuid,
  ADD FOREIGN KEY (tenant_id, product_id, image_id) REFERENCES product_images (tenant_id, product_id, id)
    ON DELETE SET NULL (image_id);

CREATE TRIGGER notify_catalog AFTER INSERT OR UPDATE OR DELETE ON product_images
  FOR EACH ROW EXECUTE FUNCTION tenpo_notify_catalog();

-- The image worker's cross-tenant claim: due pending images, or ones whose worker's lease passed.
CREATE FUNCTION tenpo_claim_product_images(p_limit integer, p_lease_seconds integer)
RETURNS TABLE (id uuid, tenant_id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE product_images i
     SET attempts = i.attempts + 1,
         locked_until = now() + make_interval(secs => p_lease_seconds)
   WHERE i.id IN (
     SELECT c.id FROM product_images c
      WHERE c.status = 'pending' AND c.available_at <= now()
        AND (c.locked_until IS NULL OR c.locked_until < now())
      ORDER BY c.available_at
      LIMIT p_limit
      FOR UPDATE SKIP LOCKED)
  RETURNING i.id, i.tenant_id
$$;

SELECT tenpo_secure_tenant_tables();
