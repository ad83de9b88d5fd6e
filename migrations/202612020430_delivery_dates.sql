-- Delivery dates in the store's business days (docs/JAPAN.md): the lead time and cut-off hour,
-- the window offered, the store's own closed weekdays (ISO 1 = Monday .. 7 = Sunday) and dates,
-- whether public holidays are closed; and extra transit days per prefecture or postal-code
-- prefix (Okinawa, remote islands). The defaults keep today's window: tomorrow through 60 days.
ALTER TABLE store_settings
  ADD COLUMN delivery_lead_days integer NOT NULL DEFAULT 0 CHECK (delivery_lead_days BETWEEN 0 AND 30),
  ADD COLUMN delivery_cutoff_hour integer CHECK (delivery_cutoff_hour BETWEEN 1 AND 23),
  ADD COLUMN delivery_window_days integer NOT NULL DEFAULT 60 CHECK (delivery_window_days BETWEEN 1 AND 90),
  ADD COLUMN closed_weekdays smallint[] NOT NULL DEFAULT '{}' CHECK (closed_weekdays <@ '{1,2,3,4,5,6,7}'::smallint[]),
  ADD COLUMN closed_dates date[] NOT NULL DEFAULT '{}' CHECK (cardinality(closed_dates) <= 400),
  ADD COLUMN closed_on_holidays boolean NOT NULL DEFAULT false;

-- The code the carrier's label software reads for a slot (Yamato B2 Cloud 0812, Sagawa e-飛伝 01).
ALTER TABLE store_delivery_slots ADD COLUMN carrier_code text CHECK (carrier_code ~ '^[0-9]{1,4}$');

CREATE TABLE store_delivery_extra_days (
  tenant_id          uuid NOT NULL,
  store_id           uuid NOT NULL,
  prefecture_code    smallint CHECK (prefecture_code BETWEEN 1 AND 47),
  postal_code_prefix text CHECK (postal_code_prefix ~ '^[0-9]{1,7}$'),
  days               integer NOT NULL CHECK (days BETWEEN 0 AND 30),
  CHECK ((prefecture_code IS NULL) <> (postal_code_prefix IS NULL)),
  UNIQUE NULLS NOT DISTINCT (store_id, prefecture_code, postal_code_prefix),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);

SELECT tenpo_secure_tenant_tables();
