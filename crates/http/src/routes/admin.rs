//! `/admin/v1`: store staff. Every route acts inside the caller's own store; another store's or
//! tenant's resource is a 404 (row-level security and store scoping both hide it).

mod auth;
mod customers;
mod digital;
mod images;
mod inventory;
mod mall;
mod orders;
pub(crate) use orders::documents_answer;
mod products;
mod shipments;
pub(crate) mod statements;
mod store;
mod webhooks;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(store::router())
        .merge(customers::router())
        .merge(products::router())
        .merge(images::router())
        .merge(inventory::router())
        .merge(orders::router())
        .merge(shipments::router())
        .merge(digital::router())
        .merge(mall::router())
        .merge(statements::router())
        .merge(webhooks::router())
}

pub fn uploads() -> OpenApiRouter<AppState> {
    digital::uploads().merge(images::uploads())
}

/// An uploaded CSV file's `Content-Type` (`text/csv`, `application/csv`, or
/// `application/octet-stream` as some clients send files): anything else is 415.
fn require_csv(headers: &axum::http::HeaderMap) -> Result<(), crate::ApiError> {
    let ct = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ["text/csv", "application/csv", "application/octet-stream"].iter().any(|t| ct.starts_with(t)) {
        return Ok(());
    }
    Err(crate::ApiError::new(
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the file with Content-Type: text/csv",
    ))
}
