//! CORS: which browser origins may call the API from their pages.
//!
//! Nothing is allowed by default. The deployment's list (`http.cors_origins`,
//! `TENPO_CORS_ORIGINS`) applies to every route, the admin API included; a store's own list
//! (`cors_origins` in its settings) adds origins for that store's storefront routes
//! (`/store/v1/stores/{store}/...`) only. A preflight from an allowed origin is answered with
//! the methods and headers the API uses (`X-Cart-Secret`, `Idempotency-Key`, `X-Order-Token`,
//! `Authorization`, ...); from any other origin it carries no `Access-Control-Allow-Origin`,
//! so the browser refuses the call. Tokens travel in headers, never cookies: credentials are
//! not allowed. A store's list is read through the read cache, so a settings change applies
//! at once.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::AppState;
use crate::cache::Cached;
use crate::routes::storefront::Shopfront;

/// Request headers a page may send.
const ALLOWED_HEADERS: [HeaderName; 7] = [
    header::CONTENT_TYPE,
    header::AUTHORIZATION,
    header::IF_NONE_MATCH,
    HeaderName::from_static("x-cart-secret"),
    HeaderName::from_static("idempotency-key"),
    HeaderName::from_static("x-order-token"),
    HeaderName::from_static("x-request-id"),
];

/// Response headers a page may read besides the always-readable ones.
const EXPOSED_HEADERS: [HeaderName; 4] =
    [header::LOCATION, header::RETRY_AFTER, header::ETAG, HeaderName::from_static("x-request-id")];

pub fn layer(state: &AppState) -> CorsLayer {
    let state = state.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(move |origin: HeaderValue, parts| {
            let state = state.clone();
            let path = parts.uri.path().to_string();
            async move { allowed(&state, &origin, &path).await }
        }))
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers(ALLOWED_HEADERS)
        .expose_headers(EXPOSED_HEADERS)
        .max_age(Duration::from_secs(600))
}

async fn allowed(state: &AppState, origin: &HeaderValue, path: &str) -> bool {
    let Ok(origin) = origin.to_str() else { return false };
    if state.settings.cors_origins.iter().any(|o| o == origin) {
        return true;
    }
    let Some(store) = path.strip_prefix("/store/v1/stores/").and_then(|rest| rest.split('/').next()) else {
        return false;
    };
    match store_origins(state, store).await {
        Ok(list) => list.iter().any(|o| o == origin),
        Err(e) => {
            tracing::warn!(error = %e, "could not read a store's CORS origins");
            false
        }
    }
}

/// The store's own list, from the read cache when it has it.
async fn store_origins(state: &AppState, store: &str) -> Result<Vec<String>, db::routing::RouteError> {
    let Some(shop) = Shopfront::resolve(state, store.to_string()).await? else { return Ok(Vec::new()) };
    if let Some(hit) = state.cache.get(shop.store_id, "cors") {
        return Ok(serde_json::from_slice(&hit.body).unwrap_or_default());
    }
    let generation = state.cache.generation(shop.store_id);
    let mut tx = state.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let list = tenancy::settings::cors_origins(&mut tx, shop.store_id).await?;
    tx.commit().await?;
    state.cache.put(
        shop.store_id,
        "cors".into(),
        generation,
        Cached::of(serde_json::to_vec(&list).unwrap_or_default()),
    );
    Ok(list)
}
