//! `/media/<key>`: product images and their renditions, public (the storefront shows them).
//! Only image keys (`t/<tenant>/images/<image>/<name>.<ext>`) are served; digital goods are
//! never reachable here. Keys are fresh per image, so answers are cacheable for ever.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use storage::{ObjectKey, StorageError};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::problem::{ApiError, ApiResult, ProblemBody};

#[derive(OpenApi)]
#[openapi(paths(serve_media))]
struct MediaDoc;

pub fn router() -> OpenApiRouter<AppState> {
    // the key has slashes: a wildcard route, documented as /media/{key} (MediaDoc)
    OpenApiRouter::with_openapi(MediaDoc::openapi()).route("/media/{*key}", axum::routing::get(serve_media))
}

/// A product image or one of its renditions, by the URL in a product's `images`.
#[utoipa::path(get, path = "/media/{key}", tag = "storefront",
    responses((status = 200, description = "the image", content_type = "image/jpeg"),
              (status = 404, body = ProblemBody)))]
async fn serve_media(State(s): State<AppState>, Path(key): Path<String>) -> ApiResult<Response> {
    let missing = || ApiError::not_found("no such image");
    if !images::upload::is_image_key(&key) {
        return Err(missing());
    }
    let storage = s.storage.as_ref().ok_or_else(missing)?;
    let key = ObjectKey::parse(key).map_err(|_| missing())?;
    let content_type = match key.as_str().rsplit('.').next() {
        Some("jpg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        _ => return Err(missing()),
    };
    let stream = match storage.get(&key).await {
        Ok(stream) => stream,
        Err(StorageError::NotFound) => return Err(missing()),
        Err(e) => return Err(images::ImageError::from(e).into()),
    };
    let mut response = Body::from_stream(stream.map_err(std::io::Error::other)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'"));
    Ok(response)
}
