-- Shoppers' accounts (crates/customers/src/account.rs): a password for a canonical customer
-- (one account per person per tenant, signed in per store), expiring revocable sessions, and
-- one-time codes for email verification and password reset. The email an account signs in
-- with is a customer_identities row (source signup), verified by a code.

CREATE TABLE customer_credentials (
  tenant_id     uuid NOT NULL REFERENCES tenants (id),
  customer_id   uuid NOT NULL,
  password_hash text NOT NULL,
  -- when the shopper proved they own the sign-in email (a verification or reset code); an
  -- account cannot sign in before. An identity verified some other way (an import) does not
  -- count: whoever chose this password must prove it.
  verified_at   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, customer_id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
CREATE TRIGGER touch BEFORE UPDATE ON customer_credentials FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

CREATE TABLE customer_sessions (
  id           uuid PRIMARY KEY,
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  store_id     uuid NOT NULL,
  customer_id  uuid NOT NULL,
  -- SHA-256 of the bearer token (tpc_...); the token itself is never stored
  token_hash   bytea NOT NULL UNIQUE,
  expires_at   timestamptz NOT NULL,
  revoked_at   timestamptz,
  last_used_at timestamptz,
  user_agent   text,
  ip           inet,
  created_at   timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
CREATE INDEX customer_sessions_customer_idx ON customer_sessions (customer_id) WHERE revoked_at IS NULL;

CREATE TABLE customer_codes (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  store_id    uuid NOT NULL,
  customer_id uuid NOT NULL,
  purpose     text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
  -- the normalised email the code was sent to (and proves)
  email       text NOT NULL,
  code_hash   bytea NOT NULL,
  attempts    integer NOT NULL DEFAULT 0,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
);
CREATE INDEX customer_codes_lookup_idx ON customer_codes (customer_id, purpose) WHERE used_at IS NULL;

SELECT tenpo_secure_tenant_tables();

-- An order placed from a signed-in shopper's cart (its customer is the account's, whatever
-- email was typed); the account's order history shows these and guest orders placed with an
-- email the account verified.
ALTER TABLE orders ADD COLUMN placed_signed_in boolean NOT NULL DEFAULT false;
CREATE INDEX orders_customer_history_idx ON orders (customer_id, store_id, placed_at DESC, id DESC);
