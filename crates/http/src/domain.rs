//! A store's own domain (`PATCH /admin/v1/store {"domain"}`): a request whose Host is a store's
//! domain, and whose path no API route takes, is that store's storefront page at `/`
//! (`/products/x` is `/shop/{store}/products/x`; docs/STOREFRONT.md, "The store's domain").
//! Which store a host names is kept in the read cache (a store's change, its domain's
//! included, drops what was resolved at once), so it costs no query per request.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use kernel::{StoreId, TenantId};
use tower::ServiceExt;

use crate::{ApiError, AppState};

/// Marks a storefront page request that came in at its store's domain: its links and cookies
/// leave `/shop/{store}` out.
#[derive(Debug, Clone, Copy)]
pub struct AtDomain;

/// The router's fallback: a store's domain serves its storefront, anything else is 404.
pub async fn fallback(State(s): State<AppState>, mut req: Request) -> Response {
    if let (Some(pages), Some(host)) = (s.storefront.clone(), host_of(req.headers())) {
        match store_of_host(&s, &host).await {
            Ok(Some((_, store))) => {
                let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
                if let Ok(uri) = format!("/shop/{store}{path}").parse::<Uri>() {
                    *req.uri_mut() = uri;
                    req.extensions_mut().insert(AtDomain);
                    return match pages.with_state(s.clone()).oneshot(req).await {
                        Ok(res) => res,
                        Err(never) => match never {},
                    };
                }
            }
            Ok(None) => {}
            Err(e) => return ApiError::from(e).into_response(),
        }
    }
    ApiError::not_found("no such endpoint").into_response()
}

/// The host a request names, as domains are stored: lower case, without port or trailing dot.
pub fn host_of(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::HOST)?.to_str().ok()?;
    if raw.starts_with('[') {
        return None; // an IPv6 address is no store's domain
    }
    let host = raw.rsplit_once(':').map(|(h, _)| h).unwrap_or(raw).trim_end_matches('.');
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// The store whose domain `host` is, through the read cache.
pub async fn store_of_host(s: &AppState, host: &str) -> Result<Option<(TenantId, StoreId)>, sqlx::Error> {
    if let Some(known) = s.cache.get_host(host) {
        return Ok(known);
    }
    let epoch = s.cache.host_epoch();
    let found = tenancy::stores::resolve_domain(&s.db, host).await?.map(|(t, store, _)| (t, store));
    s.cache.put_host(host.to_string(), found, epoch);
    Ok(found)
}
