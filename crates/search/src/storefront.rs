//! The storefront's search: `GET /store/v1/stores/{store}/search`. Parameters are checked
//! here; the index gives ids in order ([`find`]), and the catalog shows those products as they
//! are now (prices, availability), exactly as the product list does ([`show`]; the API serves
//! them from its read cache, see docs/SEARCH.md). A product that left the storefront since it
//! was indexed is left out even before the sync removes it.

use catalog::storefront::StorefrontProduct;
use db::Tx;
use kernel::{Cursor, PageError, PageRequest, ProductId, StoreId, TenantId, Validator};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{Facets, Search, SearchError, SearchQuery, SortBy};

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to look for (Japanese or Latin script); empty lists every product.
    pub q: Option<String>,
    /// Only this vendor (exact name, as in the `vendor` facet).
    pub vendor: Option<String>,
    /// Only products with this option value, as `Name:Value` (e.g. `Size:M`).
    pub option: Option<String>,
    /// Lowest price at least this (minor units, tax included).
    pub price_min: Option<i64>,
    /// Lowest price at most this.
    pub price_max: Option<i64>,
    /// `true`: only products with something available; `false`: only sold-out ones.
    pub in_stock: Option<bool>,
    /// `relevance` (default with `q`), `newest` (default without), `price_asc`, `price_desc`.
    #[param(inline)]
    pub sort: Option<SortBy>,
    /// Count vendors and option values over all matches (default true).
    pub facets: Option<bool>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page (of the same query).
    pub cursor: Option<String>,
}

/// A page of results.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchPage {
    /// The same shape as the product list, with current prices and availability.
    pub items: Vec<StorefrontProduct>,
    /// Pass as `cursor` (with the same query) for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Matches in all.
    pub total: u64,
    /// Counts over all matches (empty when `facets=false`).
    pub facets: Facets,
}

impl SearchParams {
    /// The index query these parameters ask for in a store.
    pub fn to_query(&self, tenant_id: TenantId, store_id: StoreId) -> Result<SearchQuery, SearchError> {
        let page = PageRequest { limit: self.limit, cursor: self.cursor.clone() };
        let limit = page.limit()?;
        let fingerprint = self.fingerprint();
        let offset = match page.after::<(String, u64, String)>()? {
            None => 0,
            Some((kind, offset, fp)) if kind == "search" && fp == fingerprint => offset,
            Some(_) => return Err(PageError::InvalidCursor.into()),
        };
        let mut v = Validator::new();
        let text = self.q.clone().unwrap_or_default();
        if text.chars().count() > MAX_QUERY_CHARS {
            v.push("q", "too_long", format!("at most {MAX_QUERY_CHARS} characters"));
        }
        for (field, p) in [("price_min", self.price_min), ("price_max", self.price_max)] {
            if p.is_some_and(|p| p < 0) {
                v.push(field, "out_of_range", "prices are not negative");
            }
        }
        if let (Some(lo), Some(hi)) = (self.price_min, self.price_max)
            && lo > hi
        {
            v.push("price_max", "out_of_range", "must not be below price_min");
        }
        if self.option.as_deref().is_some_and(|o| !o.contains(':')) {
            v.push("option", "invalid", "use Name:Value, e.g. Size:M");
        }
        v.into_result()?;
        let has_text = !crate::analyze::query_tokens(&text).is_empty();
        let sort = self.sort.unwrap_or(if has_text { SortBy::Relevance } else { SortBy::Newest });
        Ok(SearchQuery {
            tenant_id,
            store_id,
            text,
            statuses: vec!["active".into()],
            vendor: self.vendor.clone().filter(|s| !s.is_empty()),
            option: self.option.clone().filter(|s| !s.is_empty()),
            price_min: self.price_min,
            price_max: self.price_max,
            in_stock: self.in_stock,
            sort,
            offset: offset as usize,
            limit: limit as usize,
            facets: self.facets.unwrap_or(true),
        })
    }

    /// Identifies the query a cursor belongs to (FNV-1a of the parameters but the page).
    fn fingerprint(&self) -> String {
        let key = format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
            self.q, self.vendor, self.option, self.price_min, self.price_max, self.in_stock, self.sort
        );
        let mut h: u64 = 0xcbf29ce484222325;
        for b in key.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        format!("{h:016x}")
    }
}

/// What the index answers for a storefront query: the page's products in order, and the
/// rest of the page.
#[derive(Debug, Clone)]
pub struct Found {
    pub ids: Vec<ProductId>,
    pub next_cursor: Option<String>,
    pub total: u64,
    pub facets: Facets,
}

/// The index part of a storefront search: which products, in what order (no database read).
pub async fn find(
    search: &Search,
    tenant: TenantId,
    store: StoreId,
    params: &SearchParams,
) -> Result<Found, SearchError> {
    let query = params.to_query(tenant, store)?;
    let mut query_more = query.clone();
    query_more.limit += 1;
    let hits = search.search(&query_more).await?;
    let more = hits.ids.len() > query.limit;
    let ids: Vec<_> = hits.ids.into_iter().take(query.limit).collect();
    let next_cursor = more.then(|| Cursor::encode(&("search", query.offset + query.limit, params.fingerprint())));
    Ok(Found { ids, next_cursor, total: hits.total, facets: hits.facets })
}

/// The products of `ids` as the storefront shows them now, in that order; products that left
/// the storefront since they were indexed are left out.
pub async fn show(tx: &mut Tx, store: StoreId, ids: &[ProductId]) -> Result<Vec<StorefrontProduct>, SearchError> {
    catalog::storefront::by_ids(tx, store, ids).await.map_err(|e| match e {
        catalog::CatalogError::Db(e) => SearchError::Db(e),
        other => SearchError::Rejected(other.to_string()),
    })
}

/// Runs a storefront search: the index, then the catalog for what to show.
pub async fn search(
    tx: &mut Tx,
    search: &Search,
    store: StoreId,
    params: &SearchParams,
) -> Result<SearchPage, SearchError> {
    let found = find(search, tx.tenant(), store, params).await?;
    let items = show(tx, store, &found.ids).await?;
    Ok(SearchPage { items, next_cursor: found.next_cursor, total: found.total, facets: found.facets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_belong_to_their_query() {
        let (t, s) = (TenantId::new(), StoreId::new());
        let p = SearchParams { q: Some("tea".into()), ..Default::default() };
        let c = Cursor::encode(&("search", 20u64, p.fingerprint()));
        let next = SearchParams { cursor: Some(c.clone()), ..p.clone() };
        assert_eq!(next.to_query(t, s).unwrap().offset, 20);
        let other = SearchParams { q: Some("coffee".into()), cursor: Some(c), ..Default::default() };
        assert!(other.to_query(t, s).is_err());
        let foreign = SearchParams { cursor: Some(Cursor::encode(&serde_json::json!({"not": "yours"}))), ..p };
        assert!(foreign.to_query(t, s).is_err());
    }

    #[test]
    fn defaults_and_checks() {
        let (t, s) = (TenantId::new(), StoreId::new());
        assert_eq!(SearchParams::default().to_query(t, s).unwrap().sort, SortBy::Newest);
        let q = SearchParams { q: Some("緑茶".into()), ..Default::default() }.to_query(t, s).unwrap();
        assert_eq!(q.sort, SortBy::Relevance);
        assert_eq!(q.statuses, vec!["active".to_string()]);
        let bad = SearchParams { price_min: Some(100), price_max: Some(10), ..Default::default() };
        assert!(bad.to_query(t, s).is_err());
        let bad = SearchParams { option: Some("M".into()), ..Default::default() };
        assert!(bad.to_query(t, s).is_err());
    }
}
