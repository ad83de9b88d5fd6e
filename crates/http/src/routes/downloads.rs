//! Shoppers' downloads: the order's deliveries and the download request (by order token), and
//! the local storage's file route that the signed URLs point at.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use digital::DigitalError;
use digital::delivery::{self, OrderDeliveries};
use digital::download::{self, GrantedDownload};
use kernel::{DeliveryId, OrderId};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::storefront::Shopfront;
use crate::AppState;
use crate::extract::{ApiPath, IdempotencyKey};
use crate::problem::{ApiError, ApiResult, ProblemBody};

#[derive(OpenApi)]
#[openapi(paths(serve_file))]
struct FilesDoc;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(FilesDoc::openapi())
        .routes(routes!(list_downloads))
        .routes(routes!(request_download))
        // the key has slashes: a wildcard route, documented as /files/{key} (FilesDoc)
        .route("/files/{*key}", axum::routing::get(serve_file))
}

/// The order token (`X-Order-Token`) a shopper received at checkout; a missing or wrong one is
/// the same 404 as no order.
pub struct OrderToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for OrderToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get("x-order-token")
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .map(|t| OrderToken(t.to_string()))
            .ok_or_else(|| DigitalError::OrderNotFound.into())
    }
}

/// The order's downloads: each with its file, period, limit and count, and whether it can be
/// downloaded now.
#[utoipa::path(get, path = "/store/v1/stores/{store}/orders/{order_id}/downloads", tag = "digital",
    params(("x-order-token" = String, Header)),
    responses((status = 200, body = OrderDeliveries), (status = 404, body = ProblemBody)))]
async fn list_downloads(
    State(s): State<AppState>,
    shop: Shopfront,
    OrderToken(token): OrderToken,
    ApiPath((_store, order)): ApiPath<(String, OrderId)>,
) -> ApiResult<Json<OrderDeliveries>> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let d = delivery::list_for_shopper(&mut tx, shop.store_id, order, &token).await?;
    tx.commit().await?;
    Ok(Json(d))
}

/// Download: counts one download and answers `303 See Other` to a URL signed for a few minutes
/// (never past the download period); the body carries the same URL. An expired, revoked or
/// used-up download answers 410 with its code, and counts nothing. A repeated
/// `Idempotency-Key` gets the first answer again without counting.
#[utoipa::path(post, path = "/store/v1/stores/{store}/orders/{order_id}/downloads/{delivery_id}", tag = "digital",
    params(("x-order-token" = String, Header), ("idempotency-key" = Option<String>, Header)),
    responses((status = 303, body = GrantedDownload, headers(("location" = String, description = "the signed URL"))),
              (status = 404, body = ProblemBody, description = "order_not_found, delivery_not_found"),
              (status = 410, body = ProblemBody, description = "download_expired, download_revoked, download_limit_reached")))]
async fn request_download(
    State(s): State<AppState>,
    shop: Shopfront,
    OrderToken(token): OrderToken,
    IdempotencyKey(key): IdempotencyKey,
    ApiPath((_store, order, id)): ApiPath<(String, OrderId, DeliveryId)>,
) -> ApiResult<Response> {
    let storage = s.storage.as_ref().ok_or(DigitalError::StorageUnavailable)?;
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let granted = download::take(&mut tx, storage, shop.store_id, order, id, &token, key.as_deref()).await?;
    tx.commit().await?;
    let location = HeaderValue::from_str(&granted.url)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "unusable download URL"))?;
    let mut response = (StatusCode::SEE_OTHER, Json(granted)).into_response();
    response.headers_mut().insert(header::LOCATION, location);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A file of the local storage, through a link from a download (`expires` and `sig` signed by
/// this deployment). Streams the file; honours `Range` and `If-Range`. A tampered link answers
/// 403 `download_link_invalid`, an expired one 403 `download_link_expired`.
#[utoipa::path(get, path = "/files/{key}", tag = "digital",
    params(("expires" = i64, Query), ("sig" = String, Query), ("filename" = Option<String>, Query), ("type" = Option<String>, Query),
           ("range" = Option<String>, Header)),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
              (status = 206, description = "the requested range"),
              (status = 403, body = ProblemBody, description = "download_link_invalid, download_link_expired"),
              (status = 404, body = ProblemBody), (status = 416, body = ProblemBody, description = "range_not_satisfiable")))]
async fn serve_file(
    State(s): State<AppState>,
    Path(key): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let files =
        s.storage.as_ref().and_then(|st| st.local_files()).ok_or_else(|| ApiError::not_found("no such file"))?;
    let download = files
        .verify(&key, uri.query(), Utc::now())
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, e.code(), e.to_string()))?;
    let answer = files.respond(&download, &headers).await.map_err(DigitalError::from)?;
    if answer.status == StatusCode::RANGE_NOT_SATISFIABLE {
        let mut problem =
            ApiError::new(answer.status, "range_not_satisfiable", "the range is outside the file").into_response();
        if let Some(range) = answer.headers.get(header::CONTENT_RANGE) {
            problem.headers_mut().insert(header::CONTENT_RANGE, range.clone());
        }
        return Ok(problem);
    }
    Ok(answer.into_http().map(Body::from_stream))
}
