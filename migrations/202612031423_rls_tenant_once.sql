-- Row-level security: the tenant predicate compares to the transaction's tenant computed once
-- per statement, not once per row.
--
-- `tenant_id = app_tenant_id()` is inlined by the planner into
-- `tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid`, a filter evaluated
-- (setting looked up, text parsed to a uuid) for every row each scan reads: a storefront page
-- reads some 500 rows across products, variants, stock, locations and reservations. Written
-- `tenant_id = (SELECT app_tenant_id())` it is an InitPlan: evaluated once per statement, its
-- value a parameter that an index on tenant_id can take as an index condition. What rows are
-- visible does not change: the same function, the same comparison, NULL (no tenant set) still
-- matches nothing.
--
-- The policies are re-created through tenpo_secure_tenant_tables(), which every migration that
-- adds tables calls, so tables added later get the same form.

CREATE OR REPLACE FUNCTION tenpo_secure_tenant_tables() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT c.relname
      FROM pg_class c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
     WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
       AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation')
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.relname);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.relname);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (tenant_id = (SELECT app_tenant_id())) WITH CHECK (tenant_id = (SELECT app_tenant_id()))',
      t.relname);
  END LOOP;
END
$$;

-- every tenant-owned table's policy, in this transaction (no statement sees a table without one)
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN
    SELECT c.relname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
     WHERE p.polname = 'tenant_isolation' AND c.relnamespace = 'public'::regnamespace AND c.relname <> 'tenants'
  LOOP
    EXECUTE format('DROP POLICY tenant_isolation ON %I', t.relname);
  END LOOP;
END
$$;
SELECT tenpo_secure_tenant_tables();

-- tenants is keyed on id (0001), outside the function
DROP POLICY tenant_isolation ON tenants;
CREATE POLICY tenant_isolation ON tenants USING (id = (SELECT app_tenant_id())) WITH CHECK (id = (SELECT app_tenant_id()));
