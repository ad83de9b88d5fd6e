-- A decider takes a dead decider's claims over at once (checkout::hot::Takeover::Any): it holds
-- the variant's advisory lock, so any `processing' request it finds is a dead decider's. The
-- work list must then name variants with such requests before their lease passes, or after a
-- crash nothing would look at a variant whose queue holds only the dead decider's claims. A
-- variant a live decider is draining is listed too; other deciders fail its try-lock and move on.
CREATE OR REPLACE FUNCTION tenpo_hot_work(p_limit integer)
RETURNS TABLE (tenant_id uuid, store_id uuid, variant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT r.tenant_id, r.store_id, r.variant_id FROM (
    (SELECT tenant_id, store_id, variant_id FROM inventory_reservation_requests
      WHERE status = 'queued' AND is_hot
      ORDER BY created_at LIMIT p_limit)
    UNION ALL
    (SELECT tenant_id, store_id, variant_id FROM inventory_reservation_requests
      WHERE status = 'processing' AND is_hot
      ORDER BY created_at LIMIT p_limit)) r
$$;
