-- The outbox claim of a database's relay skips the stores its workers leave alone while a move
-- is open (frozen, or served from the other side: docs/ROUTING.md "Online move"); their events
-- wait where they are and are delivered from the database the store is served from.
CREATE FUNCTION tenpo_claim_outbox(p_limit integer, p_lease_seconds integer, p_skip uuid[])
RETURNS SETOF outbox_events
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE outbox_events e
     SET status = 'processing',
         attempts = e.attempts + 1,
         locked_until = now() + make_interval(secs => p_lease_seconds)
   WHERE e.id IN (
     SELECT id FROM outbox_events
      WHERE available_at <= now()
        AND (status = 'pending' OR (status = 'processing' AND locked_until < now()))
        AND (store_id IS NULL OR NOT store_id = ANY (p_skip))
      ORDER BY id
      LIMIT p_limit
      FOR UPDATE SKIP LOCKED)
  RETURNING e.*
$$;
