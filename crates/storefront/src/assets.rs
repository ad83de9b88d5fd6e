//! The storefront's stylesheet and script, compiled into the binary (no build step, no CDN),
//! as the console's are.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use http_api::AppState;

pub const CSS_PATH: &str = "/shop-assets/storefront.css";
pub const JS_PATH: &str = "/shop-assets/storefront.js";

const CSS: &str = include_str!("../assets/storefront.css");
const JS: &str = include_str!("../assets/storefront.js");

pub fn routes() -> Router<AppState> {
    Router::new().route(CSS_PATH, get(css)).route(JS_PATH, get(js))
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], CSS)
}

async fn js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], JS)
}
