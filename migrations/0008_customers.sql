-- Customers: what the customers domain needs beyond 0003 (docs/CUSTOMERS.md).

-- Store sync is last-writer-wins per field: for each synced field (name, name_kana, email,
-- phone, and each top-level key of preferences as "pref:<key>") the time and store of the edit
-- that produced its current value, {"name": {"at": "...", "store": "<store id>"}, ...}.
-- An incoming value replaces the local one only if its (at, store) stamp is later.
ALTER TABLE customer_profiles ADD COLUMN field_clock jsonb NOT NULL DEFAULT '{}'
  CHECK (jsonb_typeof(field_clock) = 'object');
ALTER TABLE customer_profiles ADD CONSTRAINT customer_profiles_preferences_object
  CHECK (jsonb_typeof(preferences) = 'object');

-- the admin list walks a store's profiles in customer order; search by exact email and phone
CREATE INDEX customer_profiles_store_email_idx ON customer_profiles (store_id, email) WHERE email IS NOT NULL;
CREATE INDEX customer_profiles_store_phone_idx ON customer_profiles (store_id, phone) WHERE phone IS NOT NULL;

-- at most one default address per customer and type
CREATE UNIQUE INDEX customer_addresses_default_key ON customer_addresses (customer_id, type) WHERE is_default;

-- merging into a customer re-points earlier tombstones that pointed at the merged one
CREATE INDEX customers_merged_into_idx ON customers (merged_into_id) WHERE merged_into_id IS NOT NULL;

-- a live customer is active or blocked; a tombstone (merged, erased) is soft-deleted
ALTER TABLE customers ADD CONSTRAINT customers_tombstone_deleted
  CHECK ((status IN ('merged', 'erased')) = (deleted_at IS NOT NULL));

SELECT tenpo_secure_tenant_tables();
