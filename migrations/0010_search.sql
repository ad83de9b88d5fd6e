-- Search sync: products whose search document must be rebuilt.
--
-- The search outbox consumer inserts (or refreshes) a row in the relay's transaction, so the
-- mark exists exactly when the event counts as processed; the search sync task claims rows in
-- batches (FOR UPDATE SKIP LOCKED), rebuilds the documents from the products' current state,
-- writes them to the index, and deletes the rows in the same transaction. A crash before the
-- delete leaves the rows for the next round; a change arriving meanwhile waits for the lock and
-- then marks the product again.

CREATE TABLE search_pending (
  product_id uuid PRIMARY KEY,
  tenant_id  uuid NOT NULL REFERENCES tenants (id),
  store_id   uuid NOT NULL,
  queued_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);
CREATE INDEX search_pending_queued_idx ON search_pending (queued_at);

-- worker: the tenants with products waiting, oldest first (the work runs in tenant transactions)
CREATE FUNCTION tenpo_search_pending_tenants(p_limit integer)
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT p.tenant_id FROM search_pending p GROUP BY p.tenant_id ORDER BY min(p.queued_at) LIMIT p_limit
$$;

SELECT tenpo_secure_tenant_tables();
