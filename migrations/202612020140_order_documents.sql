-- Qualified invoices and receipts (docs/JAPAN.md): the store's qualified-invoice registration
-- number (適格請求書発行事業者登録番号; a mall's vendors have theirs on `vendors`), and the
-- receipt (領収書) issued for an order: its addressee and 但し書き are fixed by the first copy,
-- later copies are marked 再発行.
ALTER TABLE store_settings
  ADD COLUMN registration_number text CHECK (registration_number ~ '^T[0-9]{13}$');

CREATE TABLE order_receipts (
  tenant_id       uuid NOT NULL REFERENCES tenants (id),
  order_id        uuid NOT NULL,
  addressee       text NOT NULL CHECK (char_length(addressee) BETWEEN 1 AND 100),
  purpose         text NOT NULL CHECK (char_length(purpose) BETWEEN 1 AND 100),
  copies          integer NOT NULL DEFAULT 1 CHECK (copies >= 1),
  first_issued_at timestamptz NOT NULL DEFAULT now(),
  last_issued_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id),
  FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id) ON DELETE CASCADE
);

SELECT tenpo_secure_tenant_tables();
