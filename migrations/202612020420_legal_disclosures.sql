-- Commercial disclosures (特定商取引法に基づく表記, docs/JAPAN.md): what a shop must show
-- shoppers about the seller and its terms. One row per store (vendor_id NULL) and, in a mall, one
-- per vendor of that store. Drafts may be incomplete; `published` needs every required item
-- (checked by tenancy::disclosures, the one rule), and only published ones reach the storefront.
CREATE TABLE legal_disclosures (
  id                 uuid PRIMARY KEY DEFAULT uuidv7(),
  tenant_id          uuid NOT NULL REFERENCES tenants (id),
  store_id           uuid NOT NULL,
  vendor_id          uuid,
  seller_name        text,
  responsible_person text,
  address            text,
  phone              text,
  email              text,
  price_note         text,
  extra_charges      text,
  payment_methods    text,
  payment_timing     text,
  delivery_timing    text,
  returns_policy     text,
  offer_validity     text,
  defect_liability   text,
  special_conditions text,
  published          boolean NOT NULL DEFAULT false,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (store_id, vendor_id),
  FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id),
  FOREIGN KEY (tenant_id, vendor_id) REFERENCES vendors (tenant_id, id)
);

SELECT tenpo_secure_tenant_tables();
