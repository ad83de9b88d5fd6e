-- A hot request is written three times (recorded, claimed, decided) and each status change
-- is a new row version in every index of the table. Two indexes paid for that without use:
--
-- * UNIQUE (tenant_id, id) exists on tenant tables for composite foreign keys; nothing refers
--   to a reservation request.
-- * inventory_reservation_requests_hot_idx (created_at, partial) served tenpo_hot_work, which
--   the draft's queue index (status, is_hot, created_at) serves as well, one status at a time.
--
-- And one misled the planner: the row-level security predicate (tenant_id = the transaction's
-- tenant) can be answered from any index that starts with tenant_id, and without fresh
-- statistics the planner guessed it selective and combined the idempotency index (every
-- request the tenant ever made) with the queue index on each decision. Cart ids are unique
-- across tenants, so (cart_id, idempotency_key) is the same rule without the trap.
ALTER TABLE inventory_reservation_requests DROP CONSTRAINT inventory_reservation_requests_tenant_id_id_key;
DROP INDEX inventory_reservation_requests_hot_idx;
DROP INDEX inventory_reservation_requests_idempotency_key;
CREATE UNIQUE INDEX inventory_reservation_requests_idempotency_key
  ON inventory_reservation_requests (cart_id, idempotency_key);

CREATE OR REPLACE FUNCTION tenpo_hot_work(p_limit integer)
RETURNS TABLE (tenant_id uuid, store_id uuid, variant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT r.tenant_id, r.store_id, r.variant_id FROM (
    (SELECT tenant_id, store_id, variant_id FROM inventory_reservation_requests
      WHERE status = 'queued' AND is_hot
      ORDER BY created_at LIMIT p_limit)
    UNION ALL
    (SELECT tenant_id, store_id, variant_id FROM inventory_reservation_requests
      WHERE status = 'processing' AND is_hot AND lease_expires_at < now()
      ORDER BY created_at LIMIT p_limit)) r
$$;
