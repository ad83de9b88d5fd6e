-- Worker entry points for checkout: which tenants have bank transfers past their due date,
-- which have carts untouched past their store's abandonment time; and the purge of stored
-- Idempotency-Key answers after a day.

CREATE FUNCTION tenpo_overdue_payment_tenants(p_limit integer)
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT tenant_id FROM (
    SELECT p.tenant_id FROM payments p
     WHERE p.method = 'bank_transfer' AND p.status = 'pending' AND p.due_at <= now()
     ORDER BY p.due_at LIMIT p_limit) due
$$;

CREATE FUNCTION tenpo_stale_cart_tenants(p_limit integer)
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT tenant_id FROM (
    SELECT c.tenant_id FROM carts c JOIN store_settings s ON s.store_id = c.store_id
     WHERE c.status = 'active' AND c.last_activity_at < now() - make_interval(secs => s.cart_abandon_after_seconds)
     LIMIT p_limit) stale
$$;

CREATE FUNCTION tenpo_purge_idempotency_keys(p_older_than_seconds integer)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH gone AS (DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => p_older_than_seconds) RETURNING 1)
  SELECT count(*) FROM gone
$$;

CREATE INDEX orders_store_placed_idx ON orders (store_id, placed_at DESC, id DESC);
CREATE INDEX orders_email_idx ON orders (store_id, email);
CREATE INDEX inventory_reservations_order_idx ON inventory_reservations (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX inventory_reservations_cart_item_idx ON inventory_reservations (cart_item_id) WHERE status = 'active';
CREATE INDEX promotion_usages_order_idx ON promotion_usages (order_id);
