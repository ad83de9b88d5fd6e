-- The hot-item queue may record a batch together with its decisions (checkout::hot, "in
-- hand"): those rows are done or failed when inserted and no decider has anything to do for
-- them. Wake the deciders only for rows left queued; NOTIFY serialises the commits that send it.
CREATE OR REPLACE FUNCTION tenpo_notify_hot() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted WHERE is_hot AND status = 'queued') THEN
    PERFORM pg_notify('tenpo_hot', '');
  END IF;
  RETURN NULL;
END
$$;
