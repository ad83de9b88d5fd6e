//! Extractors that answer bad input with problems instead of axum's plain-text rejections, and
//! resolve who is calling once per request.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use kernel::access::StaffContext;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::problem::ApiError;

/// A JSON body. Malformed JSON is a 400 `malformed_json`; JSON of the wrong shape (wrong types,
/// unknown fields or enum values, missing fields) a 422 `invalid_body` naming the field; an
/// oversized body a 413; a body without the JSON content type a 415.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send JSON with Content-Type: application/json",
            ));
        }
        if let Some(charset) = foreign_charset(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("JSON is read as UTF-8 only, not {charset}: send Content-Type: application/json"),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
            } else {
                ApiError::new(e.status(), "bad_request", e.body_text())
            }
        })?;
        // PostgreSQL text cannot hold NUL; refuse it here, for every field at once
        if contains_escaped_nul(&bytes) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "strings must not contain the NUL character",
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime_like::Essence>().ok())
        .is_some_and(|m| m.is_json())
}

/// The `charset` a Content-Type names, when it is not UTF-8 (JSON is UTF-8, RFC 8259).
fn foreign_charset(headers: &axum::http::HeaderMap) -> Option<String> {
    let ct = headers.get(axum::http::header::CONTENT_TYPE)?.to_str().ok()?;
    let charset = ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches('"').to_ascii_lowercase())
    })?;
    (charset != "utf-8" && charset != "utf8").then_some(charset)
}

/// A JSON string can carry NUL only as the escape `\u0000`: a backslash that is not itself
/// escaped, then `u0000`.
fn contains_escaped_nul(bytes: &[u8]) -> bool {
    (0..bytes.len().saturating_sub(5)).any(|i| {
        bytes[i] == b'\\' && &bytes[i + 1..i + 6] == b"u0000" && {
            let preceding = bytes[..i].iter().rev().take_while(|b| **b == b'\\').count();
            preceding % 2 == 0
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_only_real_nul_escapes() {
        assert!(super::contains_escaped_nul(br#"{"a":"x\u0000"}"#));
        assert!(!super::contains_escaped_nul(br#"{"a":"x\\u0000"}"#));
        assert!(super::contains_escaped_nul(br#"{"a":"x\\\u0000"}"#));
        assert!(!super::contains_escaped_nul(br#"{"a":"x"}"#));
    }
}

mod mime_like {
    /// The `type/subtype` of a Content-Type, lower-cased, parameters dropped.
    pub struct Essence(String);

    impl std::str::FromStr for Essence {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            let essence = s.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if essence.contains('/') { Ok(Essence(essence)) } else { Err(()) }
        }
    }

    impl Essence {
        pub fn is_json(&self) -> bool {
            self.0 == "application/json" || (self.0.starts_with("application/") && self.0.ends_with("+json"))
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => {
            // "Failed to deserialize the JSON body into the target type: role: unknown variant ..."
            let text = e.body_text();
            let detail = text.split_once("target type: ").map(|(_, d)| d.to_string()).unwrap_or(text);
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", detail)
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.body_text()),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send JSON with Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
        }
        other => ApiError::new(other.status(), "bad_request", other.body_text()),
    }
}

/// Path parameters. A malformed one (an id that is not a UUID) is a 400 `invalid_path` naming
/// it; a well-formed id of nothing is the handler's 404.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let raw = RawPathParams::from_request_parts(parts, state).await.ok();
                let malformed_id = raw
                    .iter()
                    .flat_map(|r| r.iter())
                    .find(|(name, value)| name.ends_with("_id") && value.parse::<uuid::Uuid>().is_err());
                let detail = match malformed_id {
                    Some((name, value)) => format!("{name} must be a UUID (as returned by the API), not {value:?}"),
                    None => format!("the path is malformed: {}", e.body_text().trim_start_matches("Invalid URL: ")),
                };
                Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", detail))
            }
            Err(other) => Err(ApiError::new(other.status(), "bad_request", other.body_text())),
        }
    }
}

/// Middleware: a path, query string or header that carries text PostgreSQL cannot store (the NUL
/// character) is a 400 before any extractor or handler sees it: one check for every route,
/// including those that read raw parameters (the storefront's `{store}`). JSON bodies are
/// checked by [`ApiJson`], CSV files by their readers.
pub async fn refuse_unstorable_text(req: Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let uri = req.uri();
    let refused = if kernel::text::encodes_nul(uri.path()) {
        Some(("invalid_path", "the path must not contain the NUL character (%00)"))
    } else if uri.query().is_some_and(kernel::text::encodes_nul) {
        Some(("invalid_query", "the query string must not contain the NUL character (%00)"))
    } else if req.headers().values().any(|v| v.as_bytes().contains(&0)) {
        Some(("invalid_header", "headers must not contain the NUL character"))
    } else {
        None
    };
    match refused {
        Some((code, detail)) => ApiError::new(StatusCode::BAD_REQUEST, code, detail).into_response(),
        None => next.run(req).await,
    }
}

/// Query parameters; bad ones are a 400 `invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                let text = e.body_text();
                let detail = text.split_once("query string: ").map(|(_, d)| d.to_string()).unwrap_or(text);
                Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", detail))
            }
            Err(other) => Err(ApiError::new(other.status(), "invalid_query", other.body_text())),
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The signed-in staff member (Authorization: Bearer tps_...), resolved once per request.
pub struct Staff(pub StaffContext);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(tenancy::AuthError::MissingToken)?;
        let ctx = tenancy::auth::authenticate(&state.db, token).await?;
        tracing::Span::current().record("tenant_id", tracing::field::display(ctx.tenant_id));
        Ok(Staff(ctx))
    }
}

/// The operator (Authorization: Bearer <TENPO_OPERATOR_TOKEN>).
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(expected) = state.settings.operator_token.as_deref() else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "operator_api_disabled",
                "the operator API is off: set TENPO_OPERATOR_TOKEN to enable it",
            ));
        };
        let given = bearer(parts).ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "missing_token", "send Authorization: Bearer <operator token>")
        })?;
        if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(Operator)
        } else {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "the operator token is wrong"))
        }
    }
}

/// The `Idempotency-Key` header, when sent: 1 to 255 visible ASCII characters, else a 422.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get("idempotency-key") else { return Ok(IdempotencyKey(None)) };
        // a value that is not text fails the same check as any other bad key
        let key = v.to_str().unwrap_or_default();
        checkout::items::check_key(key)?;
        Ok(IdempotencyKey(Some(key.to_string())))
    }
}

/// The caller's address: the peer, or with `trust_forwarded_for` the first X-Forwarded-For hop.
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.settings.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse().ok());
            if forwarded.is_some() {
                return Ok(ClientIp(forwarded));
            }
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        Ok(ClientIp(peer))
    }
}
