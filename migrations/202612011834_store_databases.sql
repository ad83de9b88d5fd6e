-- Store databases (docs/ROUTING.md): what `tenpo migrate` last brought each connection to, and
-- a schema version the runtime role can read on any database (it cannot read _sqlx_migrations).

ALTER TABLE db_connections
  ADD COLUMN schema_version bigint,
  ADD COLUMN migrated_at    timestamptz;

-- the newest migration applied to this database: /readyz and `serve` compare it with the binary's
CREATE FUNCTION tenpo_schema_version() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT max(version) FROM _sqlx_migrations WHERE success
$$;
