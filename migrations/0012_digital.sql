-- Digital delivery: lookups the deliveries need, and the worker's entry point for expiry.

-- a shopper's and staff's list of an order's deliveries
CREATE INDEX digital_deliveries_order_idx ON digital_deliveries (order_id);
-- "does anything still refer to this asset?" when a replaced asset's object may be deleted
CREATE INDEX digital_deliveries_asset_idx ON digital_deliveries (asset_id) WHERE asset_id IS NOT NULL;
CREATE INDEX variants_digital_asset_idx ON variants (digital_asset_id) WHERE digital_asset_id IS NOT NULL;

-- worker: which tenants have active deliveries past their expiry (the download check refuses
-- them already; this turns their status to expired and records the event)
CREATE FUNCTION tenpo_expired_delivery_tenants(p_limit integer)
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT DISTINCT tenant_id FROM (
    SELECT tenant_id FROM digital_deliveries
     WHERE status = 'active' AND url_expires_at <= now()
     ORDER BY url_expires_at LIMIT p_limit) due
$$;
