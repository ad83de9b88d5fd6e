-- Mall mode, vendor scope: locations that belong to a vendor, and the mall's settings.
--
-- A store location may belong to a vendor (the vendor's own warehouse). A vendor's staff see and
-- adjust stock only at their vendor's locations; a location without a vendor is the mall's
-- (shared). docs/MALL.md.

ALTER TABLE store_locations ADD COLUMN vendor_id uuid;
ALTER TABLE store_locations
  ADD CONSTRAINT store_locations_vendor_fkey FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id);
CREATE INDEX store_locations_vendor_idx ON store_locations (vendor_id) WHERE vendor_id IS NOT NULL;

-- Order lines are looked up by vendor: a vendor's view of the orders list, statements.
CREATE INDEX order_items_vendor_idx ON order_items (vendor_id, order_id);

-- The mall's settings, one row per tenant (absent: the defaults below).
CREATE TABLE mall_settings (
  tenant_id              uuid PRIMARY KEY REFERENCES tenants (id),
  -- 締め日: statements close at the end of this day of the month in Asia/Tokyo
  closing_day            text NOT NULL DEFAULT 'month_end' CHECK (closing_day IN ('month_end', '15', '20', '25')),
  -- whether the lines' shares of the shipping fee and of the COD fee carry commission
  commission_on_shipping boolean NOT NULL DEFAULT false,
  commission_on_cod_fee  boolean NOT NULL DEFAULT false,
  -- 振込手数料 deducted from each payout
  transfer_fee_amount    bigint NOT NULL DEFAULT 0 CHECK (transfer_fee_amount BETWEEN 0 AND 100000),
  -- net amounts below this carry forward to the next statement
  min_payout_amount      bigint NOT NULL DEFAULT 0 CHECK (min_payout_amount BETWEEN 0 AND 100000000),
  -- shopper contact details in vendors' views are masked this many days after delivery
  contact_mask_days      integer NOT NULL DEFAULT 30 CHECK (contact_mask_days BETWEEN 0 AND 3650),
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER touch BEFORE UPDATE ON mall_settings FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

SELECT tenpo_secure_tenant_tables();
