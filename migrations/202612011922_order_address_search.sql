-- The order list's name filter (EC-CUBE's 氏名・フリガナ search, docs/CONSOLE.md) compares a
-- folded name: NFKC (full- and half-width alike), spaces removed, the name and its kana side
-- by side (a search has no spaces, so it cannot match across them). Stored once per address
-- instead of computed for every address on every search; the phone filter gets an index.
ALTER TABLE order_addresses ADD COLUMN name_folded text NOT NULL GENERATED ALWAYS AS
  (translate(normalize(name, NFKC), ' ', '') || ' ' || translate(normalize(name_kana, NFKC), ' ', '')) STORED;
CREATE INDEX order_addresses_phone_idx ON order_addresses (phone) WHERE phone IS NOT NULL;
