-- The storefront lists newest first by coalesce(published_at, created_at), id. The index of 0007
-- is on published_at alone, so the planner computed every product's lowest price and sorted the
-- lot to show 20: 38 ms for 10,000 products, 0.3 ms with this index, which lets it stop after
-- one page.
DROP INDEX products_store_published_idx;
CREATE INDEX products_store_newest_idx
  ON products (store_id, (coalesce(published_at, created_at)) DESC, id DESC)
  WHERE status = 'active' AND deleted_at IS NULL;
