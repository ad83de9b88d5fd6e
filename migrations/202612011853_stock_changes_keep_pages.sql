-- Stock changes no longer announce themselves on tenpo_catalog (issue 16 item 7). Every
-- add-to-cart and every order moves a stock row: each notification threw the store's cached
-- storefront pages away (a busy store's cache was off), and a NOTIFY serialises the commits of
-- the transactions that send it. The storefront cache instead serves an answer that shows
-- availability for at most a second (docs/STOREFRONT.md, "The read cache"). Catalog, location
-- and settings changes still notify at commit.
DROP TRIGGER notify_catalog ON inventory_stocks;
