-- Vendor management: a vendor is active or suspended; it has a bank account for payouts, its
-- qualified-invoice registration number, and a commission schedule (a default rate with the
-- date each rate takes effect). docs/MALL.md.

ALTER TABLE vendors DROP CONSTRAINT vendors_status_check;
UPDATE vendors SET status = 'suspended' WHERE status = 'inactive';
ALTER TABLE vendors ADD CONSTRAINT vendors_status_check CHECK (status IN ('active', 'suspended'));

ALTER TABLE vendors
  -- 適格請求書発行事業者登録番号: T + 13 digits, the first a check digit (kernel::jp)
  ADD COLUMN registration_number text CHECK (registration_number ~ '^T[0-9]{13}$'),
  -- where the mall pays the vendor (kernel::jp::BankAccount)
  ADD COLUMN bank_account jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(bank_account) = 'object');

-- The vendor's default commission rate from a day on (Asia/Tokyo): the rate of an order line is
-- the one in effect the day the order is placed. vendors.commission_rate_bps keeps the rate given
-- at creation for the running version; this schedule rules.
CREATE TABLE vendor_commission_rates (
  tenant_id      uuid NOT NULL,
  vendor_id      uuid NOT NULL,
  effective_from date NOT NULL,
  rate_bps       integer NOT NULL CHECK (rate_bps BETWEEN 0 AND 10000),
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (vendor_id, effective_from),
  FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id)
);
INSERT INTO vendor_commission_rates (tenant_id, vendor_id, effective_from, rate_bps)
SELECT tenant_id, id, (created_at AT TIME ZONE 'Asia/Tokyo')::date, commission_rate_bps FROM vendors;

-- A vendor's suspension takes its products off every storefront of the tenant at once (and a new
-- name shows at once).
CREATE FUNCTION tenpo_notify_catalog_vendor() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status OR NEW.name IS DISTINCT FROM OLD.name THEN
    PERFORM pg_notify('tenpo_catalog', s.id::text) FROM stores s WHERE s.tenant_id = NEW.tenant_id;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER notify_catalog AFTER UPDATE ON vendors FOR EACH ROW EXECUTE FUNCTION tenpo_notify_catalog_vendor();

SELECT tenpo_secure_tenant_tables();
