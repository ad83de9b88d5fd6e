//! `/store/v1/stores/{store}`: the public storefront. Answers are cacheable: each carries an
//! ETag of its body, and a request whose If-None-Match matches gets 304 without a body. Inside
//! the server, answers are kept in the read cache until the store's catalog changes.

use axum::extract::{FromRequestParts, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use catalog::storefront::{self, StoreTags, StorefrontProduct, StorefrontQuery};
use kernel::{Page, StoreId, StoreRef, TenantId};
use tenancy::disclosures::PublishedDisclosures;
use tenancy::stores::StoreStatus;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::cache::Cached;
use crate::extract::{ApiPath, ApiQuery};
use crate::problem::{ApiError, ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(product_by_handle))
        .routes(routes!(list_tags))
        .routes(routes!(legal_disclosures))
}

/// The store a storefront request addresses (`{store}`: handle or id). A store that does not
/// exist, is inactive, or belongs to a suspended tenant is a 404.
pub struct Shopfront {
    pub tenant_id: TenantId,
    pub store_id: StoreId,
}

impl FromRequestParts<AppState> for Shopfront {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let params =
            RawPathParams::from_request_parts(parts, state).await.map_err(|_| ApiError::not_found("no such store"))?;
        let raw = params.iter().find(|(k, _)| *k == "store").map(|(_, v)| v.to_string()).unwrap_or_default();
        match Shopfront::resolve(state, raw).await? {
            Some(shop) => Ok(shop),
            None => Err(ApiError::new(StatusCode::NOT_FOUND, "store_not_found", "no such store")),
        }
    }
}

impl Shopfront {
    /// The active store `raw` (a handle or an id) names, through the read cache.
    pub async fn resolve(state: &AppState, raw: String) -> Result<Option<Shopfront>, sqlx::Error> {
        if let Some((tenant_id, store_id, active)) = state.cache.get_store(&raw) {
            return Ok(active.then_some(Shopfront { tenant_id, store_id }));
        }
        let store_ref: StoreRef = raw.parse().unwrap_or(StoreRef::Handle(raw.clone()));
        Ok(match tenancy::stores::resolve(&state.db, &store_ref).await? {
            Some((tenant_id, store_id, status)) => {
                let active = status == StoreStatus::Active;
                // a status change racing this lookup can outlive it by the store entry's few seconds
                state.cache.put_store(raw, tenant_id, store_id, active, state.cache.generation(store_id));
                active.then_some(Shopfront { tenant_id, store_id })
            }
            None => None,
        })
    }
}

/// Serves a storefront answer from the read cache, or computes it with `load` and caches it.
async fn cached<F, Fut>(
    state: &AppState,
    shop: &Shopfront,
    key: String,
    headers: &HeaderMap,
    load: F,
) -> ApiResult<Response>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<Vec<u8>>>,
{
    let value = state.cache.get_or_compute(shop.store_id, key, load).await?;
    Ok(respond(headers, value))
}

/// A JSON answer with its ETag, or 304 when the caller already has it.
fn respond(headers: &HeaderMap, value: Cached) -> Response {
    respond_as(headers, value, "application/json")
}

/// A cached answer of `content_type` with its ETag, or 304 when the caller already has it:
/// the storefront API's JSON and the storefront pages' HTML (crates/storefront) alike.
pub fn respond_as(headers: &HeaderMap, value: Cached, content_type: &'static str) -> Response {
    let etag: &str = &value.etag;
    let matches = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(',').any(|t| t.trim() == etag || t.trim() == "*" || t.trim().trim_start_matches("W/") == etag)
    });
    let mut res = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], value.body).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    // caches may keep it but must revalidate: availability changes
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, no-cache"));
    res
}

/// Active products of the store with their variants, prices and availability.
#[utoipa::path(get, path = "/store/v1/stores/{store}/products", tag = "storefront",
    params(StorefrontQuery),
    responses((status = 200, body = Page<StorefrontProduct>, description = "with an ETag"), (status = 304, description = "If-None-Match matched"),
              (status = 404, body = ProblemBody)))]
async fn list_products(
    State(s): State<AppState>,
    shop: Shopfront,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<StorefrontQuery>,
) -> ApiResult<Response> {
    let key = format!("list:{:?}:{:?}:{:?}:{:?}:{:?}", q.sort, q.limit, q.cursor, q.tag, q.product_type);
    cached(&s, &shop, key, &headers, || async {
        let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
        let page = storefront::list(&mut tx, shop.store_id, &q).await?;
        tx.commit().await?;
        Ok(serde_json::to_vec(&page).unwrap_or_default())
    })
    .await
}

/// The tags of the store's products with how many products carry each (most used first; at
/// most 500): for tag navigation, each a list through `GET .../products?tag=`.
#[utoipa::path(get, path = "/store/v1/stores/{store}/tags", tag = "storefront",
    responses((status = 200, body = StoreTags, description = "with an ETag"), (status = 304, description = "If-None-Match matched"),
              (status = 404, body = ProblemBody)))]
async fn list_tags(State(s): State<AppState>, shop: Shopfront, headers: HeaderMap) -> ApiResult<Response> {
    cached(&s, &shop, "tags".into(), &headers, || async {
        let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
        let items = storefront::tags(&mut tx, shop.store_id).await?;
        tx.commit().await?;
        Ok(serde_json::to_vec(&StoreTags { items }).unwrap_or_default())
    })
    .await
}

/// One active product by its handle.
#[utoipa::path(get, path = "/store/v1/stores/{store}/products/{handle}", tag = "storefront",
    responses((status = 200, body = StorefrontProduct), (status = 304), (status = 404, body = ProblemBody)))]
async fn product_by_handle(
    State(s): State<AppState>,
    shop: Shopfront,
    headers: HeaderMap,
    ApiPath((_store, handle)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    let key = format!("product:{}", handle.to_lowercase());
    cached(&s, &shop, key, &headers, || async {
        let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
        let p = storefront::by_handle(&mut tx, shop.store_id, &handle).await?;
        tx.commit().await?;
        Ok(serde_json::to_vec(&p).unwrap_or_default())
    })
    .await
}

/// The store's commercial disclosures (特定商取引法に基づく表記) for its page of them and, in a
/// mall, each vendor's that published its own. 404 `legal_disclosures_not_published` until the
/// store published a complete set.
#[utoipa::path(get, path = "/store/v1/stores/{store}/legal-disclosures", tag = "storefront",
    responses((status = 200, body = PublishedDisclosures),
              (status = 404, body = ProblemBody, description = "store_not_found, legal_disclosures_not_published")))]
async fn legal_disclosures(State(s): State<AppState>, shop: Shopfront) -> ApiResult<axum::Json<PublishedDisclosures>> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let d = tenancy::disclosures::published(&mut tx, shop.store_id).await?;
    tx.commit().await?;
    Ok(axum::Json(d))
}
