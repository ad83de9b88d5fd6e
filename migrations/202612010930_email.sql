-- Transactional email: each store's sender name and language, and the send log.

ALTER TABLE store_settings
  ADD COLUMN mail_sender_name text CHECK (char_length(mail_sender_name) <= 100),
  ADD COLUMN mail_locale text NOT NULL DEFAULT 'ja' CHECK (mail_locale IN ('ja', 'en'));

-- One row per message and recipient, recorded in the transaction of the change it tells about
-- (crates/mail). dedupe_key ("<what>:<kind>:<recipient>", e.g. "order.placed:<event id>:...")
-- makes recording once-only; message_token names the Message-ID, so a resend after a crash is
-- recognisable. A row once 'sent' is never claimed again.
CREATE TABLE email_messages (
  id            uuid PRIMARY KEY,
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  store_id      uuid NOT NULL,
  kind          text NOT NULL CHECK (kind ~ '^[a-z_]{1,64}$'),
  dedupe_key    text NOT NULL CHECK (char_length(dedupe_key) <= 600),
  message_token text NOT NULL,
  to_address    text NOT NULL CHECK (char_length(to_address) <= 254),
  from_name     text,
  locale        text NOT NULL CHECK (locale IN ('ja', 'en')),
  subject       text NOT NULL,
  -- emptied once sent when sensitive (it holds a verification or reset code)
  body_text     text NOT NULL,
  sensitive     boolean NOT NULL DEFAULT false,
  status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
  attempts      integer NOT NULL DEFAULT 0,
  available_at  timestamptz NOT NULL DEFAULT now(),
  locked_until  timestamptz,
  last_error    text,
  message_id    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  sent_at       timestamptz,
  UNIQUE (tenant_id, dedupe_key),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);
CREATE INDEX email_messages_due_idx ON email_messages (available_at) WHERE status IN ('queued', 'sending');
CREATE INDEX email_messages_store_idx ON email_messages (store_id, id DESC);

-- The senders' cross-tenant claim: due messages, or ones whose sender's lease passed.
CREATE FUNCTION tenpo_claim_email(p_limit integer, p_lease_seconds integer)
RETURNS TABLE (id uuid, tenant_id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE email_messages m
     SET status = 'sending',
         attempts = m.attempts + 1,
         locked_until = now() + make_interval(secs => p_lease_seconds)
   WHERE m.id IN (
     SELECT e.id FROM email_messages e
      WHERE (e.status = 'queued' AND e.available_at <= now())
         OR (e.status = 'sending' AND e.locked_until < now())
      ORDER BY e.available_at
      LIMIT p_limit
      FOR UPDATE SKIP LOCKED)
  RETURNING m.id, m.tenant_id
$$;

SELECT tenpo_secure_tenant_tables();
