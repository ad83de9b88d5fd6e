-- Japan Post postal codes loaded by `tenpo postal update FILE` (crates/postal, docs/JAPAN.md):
-- when postal_source has its row, servers use this table instead of the compiled-in one.
-- Not tenant data: the same for everyone, read by the runtime role at start.

CREATE TABLE postal_source (
  only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  source    text NOT NULL,
  places    integer NOT NULL,
  loaded_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE postal_codes (
  seq             integer PRIMARY KEY,
  code            text NOT NULL CHECK (code ~ '^[0-9]{7}$'),
  prefecture_code smallint NOT NULL CHECK (prefecture_code BETWEEN 1 AND 47),
  city            text NOT NULL,
  city_kana       text NOT NULL,
  town            text NOT NULL,
  town_kana       text NOT NULL
);
CREATE INDEX postal_codes_code ON postal_codes (code);
