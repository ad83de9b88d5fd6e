-- Catalog rules the first migration left to the application, and change notifications for
-- storefront caches.

-- A product's option combinations are unique (Size M / Red once). Products without options
-- have a single variant (enforced by the catalog service).
CREATE UNIQUE INDEX variants_product_options_key
  ON variants (product_id, coalesce(option1, ''), coalesce(option2, ''), coalesce(option3, ''))
  WHERE deleted_at IS NULL AND option1 IS NOT NULL;

CREATE INDEX products_store_published_idx ON products (store_id, published_at DESC, id) WHERE status = 'active' AND deleted_at IS NULL;
CREATE INDEX variants_product_idx ON variants (product_id) WHERE deleted_at IS NULL;

-- Storefront read caches listen on tenpo_catalog: the payload is the store whose products,
-- prices or availability changed. pg_notify folds identical payloads within a transaction, so a
-- bulk change sends one notification per store.
CREATE FUNCTION tenpo_notify_catalog() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('tenpo_catalog', OLD.store_id::text);
  ELSE
    PERFORM pg_notify('tenpo_catalog', NEW.store_id::text);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER notify_catalog AFTER INSERT OR UPDATE OR DELETE ON products FOR EACH ROW EXECUTE FUNCTION tenpo_notify_catalog();
CREATE TRIGGER notify_catalog AFTER INSERT OR UPDATE OR DELETE ON variants FOR EACH ROW EXECUTE FUNCTION tenpo_notify_catalog();
CREATE TRIGGER notify_catalog AFTER INSERT OR UPDATE OR DELETE ON inventory_stocks FOR EACH ROW EXECUTE FUNCTION tenpo_notify_catalog();
CREATE TRIGGER notify_catalog AFTER UPDATE ON store_settings FOR EACH ROW EXECUTE FUNCTION tenpo_notify_catalog();

-- stores has no store_id column: notify with its id
CREATE FUNCTION tenpo_notify_catalog_store() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tenpo_catalog', NEW.id::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER notify_catalog AFTER UPDATE ON stores FOR EACH ROW EXECUTE FUNCTION tenpo_notify_catalog_store();

-- where a product is stocked, and which locations are active, change availability too
CREATE TRIGGER notify_catalog AFTER INSERT OR UPDATE OR DELETE ON store_locations FOR EACH ROW EXECUTE FUNCTION tenpo_notify_catalog();

CREATE FUNCTION tenpo_notify_catalog_product_location() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tenpo_catalog', p.store_id::text)
     FROM products p WHERE p.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.product_id ELSE NEW.product_id END;
  RETURN NULL;
END
$$;
CREATE TRIGGER notify_catalog AFTER INSERT OR UPDATE OR DELETE ON product_locations FOR EACH ROW EXECUTE FUNCTION tenpo_notify_catalog_product_location();
