//! `/store/v1/stores/{store}/search`: storefront full-text search with filters, facets, sort
//! and cursor pagination (docs/SEARCH.md). The index answers which products and in what order;
//! the catalog shows them as the product list does, with current availability, through the
//! read cache: each product shown is a cached piece, served like the product list's answers
//! (dropped when the store's catalog changes, read again after at most a second for stock).

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kernel::ProductId;
use search::storefront::{SearchPage, SearchParams};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::storefront::Shopfront;
use crate::AppState;
use crate::extract::ApiQuery;
use crate::problem::{ApiError, ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_products))
}

/// Searches the store's active products (Japanese and Latin text, typo-tolerant), with
/// filters, facet counts and sorting. Without `q` it lists every active product.
#[utoipa::path(get, path = "/store/v1/stores/{store}/search", tag = "storefront",
    params(SearchParams),
    responses((status = 200, body = SearchPage), (status = 400, body = ProblemBody), (status = 404, body = ProblemBody),
              (status = 422, body = ProblemBody), (status = 503, body = ProblemBody, description = "the search engine is unavailable")))]
async fn search_products(
    State(s): State<AppState>,
    shop: Shopfront,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> ApiResult<Response> {
    let Some(index) = &s.search else {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "search_unavailable", "search is not configured"));
    };
    let found = search::storefront::find(index, shop.tenant_id, shop.store_id, &params).await?;
    let items = items(&s, &shop, &found.ids).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], page_body(&items, &found)).into_response())
}

/// The products of a page of results as the storefront shows them (JSON), in order: from the
/// read cache (a piece per product, `search-item:<id>`), the rest from the catalog in one
/// transaction. A product no longer on the storefront is an empty piece, left out.
async fn items(s: &AppState, shop: &Shopfront, ids: &[ProductId]) -> ApiResult<Vec<Bytes>> {
    let keys: Vec<String> = ids.iter().map(|id| format!("search-item:{id}")).collect();
    let mut pieces = s.cache.get_pieces(shop.store_id, &keys);
    let missing: Vec<ProductId> = ids.iter().zip(&pieces).filter(|(_, p)| p.is_none()).map(|(id, _)| *id).collect();
    if !missing.is_empty() {
        // the generation before reading: a change heard meanwhile keeps these pieces out
        let (generation, at) = (s.cache.generation(shop.store_id), Instant::now());
        let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
        let shown = search::storefront::show(&mut tx, shop.store_id, &missing).await?;
        tx.commit().await?;
        let mut read: HashMap<ProductId, Bytes> =
            shown.iter().map(|p| (p.id, Bytes::from(serde_json::to_vec(p).unwrap_or_default()))).collect();
        let mut fresh = Vec::with_capacity(missing.len());
        for ((id, key), piece) in ids.iter().zip(&keys).zip(pieces.iter_mut()) {
            if piece.is_none() {
                let body = read.remove(id).unwrap_or_default();
                fresh.push((key.clone(), body.clone()));
                *piece = Some(body);
            }
        }
        s.cache.put_pieces(shop.store_id, generation, at, fresh);
    }
    Ok(pieces.into_iter().flatten().filter(|p| !p.is_empty()).collect())
}

/// A [`SearchPage`] as JSON, its items given as JSON already.
fn page_body(items: &[Bytes], found: &search::storefront::Found) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 256);
    out.extend_from_slice(b"{\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(b"],\"next_cursor\":");
    let _ = serde_json::to_writer(&mut out, &found.next_cursor);
    out.extend_from_slice(format!(",\"total\":{},\"facets\":", found.total).as_bytes());
    let _ = serde_json::to_writer(&mut out, &found.facets);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_body_is_a_search_page() {
        let found = search::storefront::Found {
            ids: Vec::new(),
            next_cursor: Some("abc".into()),
            total: 7,
            facets: search::Facets::default(),
        };
        let items = [Bytes::from_static(br#"{"id":1}"#), Bytes::from_static(br#"{"id":2}"#)];
        let v: serde_json::Value = serde_json::from_slice(&page_body(&items, &found)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"items": [{"id": 1}, {"id": 2}], "next_cursor": "abc", "total": 7,
                               "facets": {"vendor": {}, "options": {}}})
        );
    }
}
