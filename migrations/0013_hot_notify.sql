-- Wake hot-item deciders only for hot requests. Every add-to-cart records a request; notifying
-- for all of them woke the deciders for nothing and, since NOTIFY serialises the commits of
-- the transactions that send it, made every add-to-cart commit wait its turn.
DROP TRIGGER notify_hot ON inventory_reservation_requests;

CREATE OR REPLACE FUNCTION tenpo_notify_hot() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted WHERE is_hot) THEN
    PERFORM pg_notify('tenpo_hot', '');
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER notify_hot AFTER INSERT ON inventory_reservation_requests
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION tenpo_notify_hot();

-- Lazy expiry asks for a stock row's lapsed holds: one range scan instead of combining two indexes.
DROP INDEX inventory_reservations_stock_idx;
CREATE INDEX inventory_reservations_stock_idx ON inventory_reservations (stock_id, expires_at) WHERE status = 'active';
