-- Mall mode, statements (精算書): what the mall owes each vendor per closing period
-- (docs/MALL.md). A statement is stored when it is closed (numbered per tenant, never changed
-- but for its payout); its lines are the order lines it counted, at most once per line and
-- kind (a sale, and a reversal if the line is canceled after it was counted).

CREATE TABLE vendor_statements (
  id                    uuid PRIMARY KEY,
  tenant_id             uuid NOT NULL REFERENCES tenants (id),
  number                bigint NOT NULL CHECK (number > 0),
  vendor_id             uuid NOT NULL,
  -- as at closing
  vendor_name           text NOT NULL,
  registration_number   text,
  status                text NOT NULL CHECK (status IN ('closed', 'paid')),
  period_start          timestamptz NOT NULL,
  period_end            timestamptz NOT NULL,
  closing_date          date NOT NULL,
  currency              text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  sales_10              bigint NOT NULL,
  sales_8               bigint NOT NULL,
  tax_10                bigint NOT NULL,
  tax_8                 bigint NOT NULL,
  commission_amount     bigint NOT NULL,
  commission_tax_amount bigint NOT NULL,
  transfer_fee_amount   bigint NOT NULL CHECK (transfer_fee_amount >= 0),
  carried_in_amount     bigint NOT NULL,
  carried_out_amount    bigint NOT NULL,
  net_amount            bigint NOT NULL CHECK (net_amount >= 0),
  closed_at             timestamptz NOT NULL DEFAULT now(),
  closed_by             uuid,
  paid_on               date,
  bank_reference        text,
  paid_by               uuid,
  UNIQUE (tenant_id, id),
  UNIQUE (tenant_id, number),
  FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id),
  CHECK ((status = 'paid') = (paid_on IS NOT NULL))
);
CREATE INDEX vendor_statements_vendor_idx ON vendor_statements (vendor_id, period_end DESC);

CREATE TABLE vendor_statement_lines (
  tenant_id           uuid NOT NULL,
  statement_id        uuid NOT NULL,
  order_item_id       uuid NOT NULL,
  order_id            uuid NOT NULL,
  order_number        bigint NOT NULL,
  kind                text NOT NULL CHECK (kind IN ('sale', 'reversal')),
  sku                 text NOT NULL,
  product_title       text NOT NULL,
  tax_class           text NOT NULL CHECK (tax_class IN ('standard', 'reduced')),
  settled_at          timestamptz NOT NULL,
  sales_10            bigint NOT NULL,
  sales_8             bigint NOT NULL,
  commission_rate_bps integer NOT NULL,
  commission          bigint NOT NULL,
  -- every line counts once as a sale, and at most once back
  PRIMARY KEY (order_item_id, kind),
  FOREIGN KEY (tenant_id, statement_id) REFERENCES vendor_statements (tenant_id, id),
  FOREIGN KEY (tenant_id, order_item_id) REFERENCES order_items (tenant_id, id)
);
CREATE INDEX vendor_statement_lines_statement_idx ON vendor_statement_lines (statement_id);

-- The worker's way to the mall tenants whose statements may be due (cross-tenant, like the
-- other jobs' entry points).
CREATE FUNCTION tenpo_mall_tenants()
RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT id FROM tenants WHERE type = 'mall' AND status = 'active'
$$;

SELECT tenpo_secure_tenant_tables();
