-- Online moves of a store between databases (docs/ROUTING.md, `tenpo store move`): one row per
-- move, its state recorded at every step so a crashed move resumes and an aborted one is known.
-- While a move is `frozen`, the store's writes are refused (the route cache reads it); a change
-- of a move's state notifies `tenpo_routes` like a route change, so every process hears a
-- freeze and its end at once. Control data: no tenant_id (the route cache reads it before any
-- tenant is known), like store_db_routing.

CREATE TABLE store_moves (
  id          uuid PRIMARY KEY DEFAULT uuidv7(),
  store_id    uuid NOT NULL REFERENCES stores (id),
  from_key    text NOT NULL,
  to_key      text NOT NULL,
  state       text NOT NULL DEFAULT 'copying'
              CHECK (state IN ('copying', 'frozen', 'switched', 'done', 'aborted')),
  frozen_at   timestamptz,
  freeze_ms   bigint,
  error       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
-- one open move per store
CREATE UNIQUE INDEX store_moves_open ON store_moves (store_id) WHERE state IN ('copying', 'frozen', 'switched');
CREATE TRIGGER touch BEFORE UPDATE ON store_moves FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER move_notify AFTER INSERT OR UPDATE OR DELETE ON store_moves
  FOR EACH ROW EXECUTE FUNCTION tenpo_route_notify();

-- A move copies rows whole: their updated_at is the source's, not the copy's moment (the move
-- sets tenpo.copying in its transactions on the target).
CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('tenpo.copying', true), '') <> 'on' THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;
