-- The storefront's own domain, branding and privacy policy (issue 20, docs/STOREFRONT.md).
--
-- stores.domain: the host name at whose `/` the store's storefront pages are served. It lives
-- on stores (control data, the main database) so that it is unique across every store of the
-- deployment, whichever database holds the store's data; lower-case, no port, no trailing dot
-- (tenancy::stores::parse_domain). Changing it fires the stores trigger on tenpo_catalog, so
-- every process's read cache forgets what it resolved.
ALTER TABLE stores ADD COLUMN domain text;
CREATE UNIQUE INDEX stores_domain_key ON stores (domain) WHERE domain IS NOT NULL;

-- Which store a request's Host names (before any tenant is known): the storefront at `/`.
CREATE FUNCTION tenpo_resolve_store_domain(p_domain text)
RETURNS TABLE (tenant_id uuid, store_id uuid, status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT s.tenant_id, s.id, s.status FROM stores s WHERE s.domain = p_domain LIMIT 1
$$;

-- Branding and the privacy policy, from the store's settings (tenancy::settings): colours as
-- #rrggbb with at least WCAG AA contrast against white (checked there), the logo as a /media/
-- path of the store's tenant (an image the catalog's images pipeline stored), the privacy
-- policy as plain text (the storefront's privacy page; a default template when NULL).
ALTER TABLE store_settings
  ADD COLUMN brand_primary text CHECK (brand_primary ~ '^#[0-9a-f]{6}$'),
  ADD COLUMN brand_accent text CHECK (brand_accent ~ '^#[0-9a-f]{6}$'),
  ADD COLUMN logo_url text CHECK (length(logo_url) <= 500),
  ADD COLUMN privacy_policy text CHECK (length(privacy_policy) <= 20000);
