//! `/store/v1/stores/{store}/search`: storefront full-text search with filters, facets, sort
//! and cursor pagination (docs/SEARCH.md). The index answers which products and in what order;
//! the catalog shows them as the product list does, with current availability.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
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
) -> ApiResult<Json<SearchPage>> {
    let Some(index) = &s.search else {
        return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "search_unavailable", "search is not configured"));
    };
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let page = search::storefront::search(&mut tx, index, shop.store_id, &params).await?;
    tx.commit().await?;
    Ok(Json(page))
}
