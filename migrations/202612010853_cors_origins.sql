-- Browser origins allowed to call a store's storefront API (CORS), normalised
-- (scheme://host[:port], lower case, default port left out). Empty: only the deployment's own
-- list (TENPO_CORS_ORIGINS) applies, which is empty by default.
ALTER TABLE store_settings
  ADD COLUMN cors_origins text[] NOT NULL DEFAULT '{}' CHECK (cardinality(cors_origins) <= 50);
