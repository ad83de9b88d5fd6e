//! The console's pages, one module per section. Each handler resolves the member
//! ([`crate::session::Signed`] or [`crate::session::Posted`]), opens a tenant transaction and
//! calls the domain service the admin API calls for the same thing.

mod auth;
mod carrier;
mod customers;
mod home;
mod inventory;
mod mall;
mod orders;
mod products;
mod promotions;
mod settings;
mod staff;
mod webhooks;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::Console;
use crate::error::Failure;

pub fn routes(settings: &crate::ConsoleSettings) -> Router<Console> {
    Router::new()
        .merge(auth::routes())
        .merge(home::routes())
        .merge(orders::routes())
        .merge(carrier::routes())
        .merge(products::routes(settings))
        .merge(inventory::routes())
        .merge(customers::routes())
        .merge(settings::routes())
        .merge(staff::routes())
        .merge(promotions::routes())
        .merge(webhooks::routes())
        .merge(mall::routes())
}

pub async fn not_found() -> Response {
    Failure::new(StatusCode::NOT_FOUND, "not_found", "no such page").into_response()
}

/// An id from a path: what is no id is no page.
pub fn parse_id<T: std::str::FromStr>(raw: &str) -> Result<T, Failure> {
    raw.parse().map_err(|_| Failure::new(StatusCode::NOT_FOUND, "not_found", "no such page"))
}

/// Query parameters into a domain filter, with blank fields (an untouched form input) left out;
/// what does not fit is the API's 400 `invalid_query` message.
pub fn query<T: serde::de::DeserializeOwned>(raw: Option<&str>) -> Result<T, Failure> {
    let kept: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form_urlencoded::parse(raw.unwrap_or("").as_bytes()).filter(|(_, v)| !v.trim().is_empty()))
        .finish();
    let uri: axum::http::Uri =
        format!("/?{kept}").parse().map_err(|_| bad_query("the query string is malformed".into()))?;
    axum::extract::Query::<T>::try_from_uri(&uri).map(|q| q.0).map_err(|e| {
        let text = e.body_text();
        bad_query(text.split_once("query string: ").map(|(_, d)| d.to_string()).unwrap_or(text))
    })
}

#[derive(serde::Deserialize)]
struct CsvQuery {
    encoding: Option<kernel::csv_file::CsvEncoding>,
}

/// Every CSV download of the console: an export's UTF-8 text in the query's `encoding`
/// (`default` when it has none), as `kernel::csv_file` encodes it for the API too.
pub fn csv_download(
    text: &str,
    raw: Option<&str>,
    default: kernel::csv_file::CsvEncoding,
    filename: &'static str,
) -> Result<Response, Failure> {
    let q: CsvQuery = query(raw)?;
    let file = kernel::csv_file::encode(text, q.encoding.unwrap_or(default), filename)?;
    let disposition = file.content_disposition();
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, file.content_type().to_string()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        file.bytes,
    )
        .into_response())
}

fn bad_query(detail: String) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, "invalid_query", detail)
}

/// The query string without the given keys (to build a link that changes one of them).
pub fn query_without(raw: Option<&str>, drop: &[&str]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .filter(|(k, v)| !drop.contains(&k.as_ref()) && !v.trim().is_empty()),
        )
        .finish()
}
