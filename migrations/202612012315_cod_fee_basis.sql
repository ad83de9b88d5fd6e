-- What a store's COD fee tiers are compared with: the total before the fee (`subtotal`, what
-- every store had so far) or the amount the carrier collects, fee included (`collected`, as
-- Yamato and Sagawa tier it). Existing stores keep today's behaviour.
ALTER TABLE store_settings
  ADD COLUMN cod_fee_basis text NOT NULL DEFAULT 'subtotal' CHECK (cod_fee_basis IN ('subtotal', 'collected'));
