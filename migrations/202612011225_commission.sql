-- Mall mode, commission: a product may override its vendor's default rate from a day on, and
-- every order line keeps what it was placed with: its shares of the shipping and COD fees, the
-- commission rate in effect that day, the base it applies to and the amount (docs/MALL.md).
-- Lines placed before this migration carry no commission (0).

CREATE TABLE product_commission_rates (
  tenant_id      uuid NOT NULL,
  product_id     uuid NOT NULL,
  effective_from date NOT NULL,
  rate_bps       integer NOT NULL CHECK (rate_bps BETWEEN 0 AND 10000),
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (product_id, effective_from),
  FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);

ALTER TABLE order_items
  -- the line's shares of the order's shipping and COD fees (largest remainder, docs/CHECKOUT.md)
  ADD COLUMN shipping_fee_share     bigint NOT NULL DEFAULT 0 CHECK (shipping_fee_share >= 0),
  ADD COLUMN cod_fee_share          bigint NOT NULL DEFAULT 0 CHECK (cod_fee_share >= 0),
  -- frozen at placing: a later rate never changes them
  ADD COLUMN commission_rate_bps    integer NOT NULL DEFAULT 0 CHECK (commission_rate_bps BETWEEN 0 AND 10000),
  ADD COLUMN commission_base_amount bigint NOT NULL DEFAULT 0 CHECK (commission_base_amount >= 0),
  ADD COLUMN commission_amount      bigint NOT NULL DEFAULT 0 CHECK (commission_amount >= 0);

SELECT tenpo_secure_tenant_tables();
