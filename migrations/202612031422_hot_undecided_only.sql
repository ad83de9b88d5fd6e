-- Only undecided hot requests are work; index and notify for those alone.
--
-- * The draft's queue index (status, is_hot, created_at) held every request ever made: a row
--   recorded with its decision (in hand, or the normal path) paid an entry it never used, and a
--   queued one a new entry at each status change (status is in the key, so no change is a HOT
--   update). tenpo_hot_work asks only for hot requests queued or processing: a partial index
--   of exactly those answers it, and rows leave it as they are decided.
-- * The wake-up trigger ran once per insert statement with a transition table of every row it
--   inserted, only to find that none was queued for a decider (the in-hand and normal paths).
--   A row trigger with a WHEN clause fires only for the rows a decider must see, and NOTIFY
--   folds the repeats of one transaction into one.
DROP INDEX inventory_reservation_requests_queue_idx;
CREATE INDEX inventory_reservation_requests_undecided_idx
  ON inventory_reservation_requests (created_at) WHERE is_hot AND status IN ('queued', 'processing');

DROP TRIGGER notify_hot ON inventory_reservation_requests;

CREATE OR REPLACE FUNCTION tenpo_notify_hot() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tenpo_hot', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER notify_hot AFTER INSERT ON inventory_reservation_requests
  FOR EACH ROW WHEN (NEW.is_hot AND NEW.status = 'queued') EXECUTE FUNCTION tenpo_notify_hot();
