-- Routing (docs/ROUTING.md): every change of a store's route takes a new version (monotonic
-- across the deployment, a deleted and re-created route included) and, at commit, notifies
-- `tenpo_routes` with the store id, so every process drops its cached route at once.

CREATE SEQUENCE store_route_versions;
ALTER TABLE store_db_routing ADD COLUMN version bigint NOT NULL DEFAULT nextval('store_route_versions');

CREATE FUNCTION tenpo_route_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := nextval('store_route_versions');
  RETURN NEW;
END
$$;
CREATE TRIGGER route_version BEFORE UPDATE ON store_db_routing FOR EACH ROW EXECUTE FUNCTION tenpo_route_version();

CREATE FUNCTION tenpo_route_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tenpo_routes', (CASE WHEN TG_OP = 'DELETE' THEN OLD.store_id ELSE NEW.store_id END)::text);
  RETURN NULL;
END
$$;
CREATE TRIGGER route_notify AFTER INSERT OR UPDATE OR DELETE ON store_db_routing
  FOR EACH ROW EXECUTE FUNCTION tenpo_route_notify();
