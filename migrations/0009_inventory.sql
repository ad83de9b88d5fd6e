-- Worker entry points for inventory: which tenants have holds to expire, which hot variants
-- have requests to decide; and a wake-up for the hot-item deciders.

CREATE FUNCTION tenpo_due_reservation_tenants(p_limit integer)
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT tenant_id FROM (
    SELECT tenant_id FROM inventory_reservations
     WHERE status = 'active' AND expires_at <= now()
     ORDER BY expires_at LIMIT p_limit) due
$$;

-- hot variants with requests waiting for a decision (queued, or claimed by a worker whose
-- lease has passed)
CREATE FUNCTION tenpo_hot_work(p_limit integer)
RETURNS TABLE (tenant_id uuid, store_id uuid, variant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT r.tenant_id, r.store_id, r.variant_id FROM (
    SELECT tenant_id, store_id, variant_id FROM inventory_reservation_requests
     WHERE is_hot AND (status = 'queued' OR (status = 'processing' AND lease_expires_at < now()))
     ORDER BY created_at LIMIT p_limit) r
$$;

CREATE INDEX inventory_reservation_requests_hot_idx
  ON inventory_reservation_requests (created_at) WHERE is_hot AND status IN ('queued', 'processing');

CREATE FUNCTION tenpo_notify_hot() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tenpo_hot', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER notify_hot AFTER INSERT ON inventory_reservation_requests FOR EACH STATEMENT EXECUTE FUNCTION tenpo_notify_hot();

-- holds and requests of a customer point at that customer like carts and orders do
ALTER TABLE inventory_reservations
  ADD FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id);
ALTER TABLE inventory_reservation_requests
  ADD FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id);
CREATE INDEX inventory_reservations_customer_idx ON inventory_reservations (customer_id) WHERE customer_id IS NOT NULL;

-- holds as short as a second: useful for trying expiry, harmless otherwise
ALTER TABLE store_settings DROP CONSTRAINT store_settings_reservation_ttl_seconds_check;
ALTER TABLE store_settings ADD CONSTRAINT store_settings_reservation_ttl_seconds_check CHECK (reservation_ttl_seconds BETWEEN 1 AND 86400);
