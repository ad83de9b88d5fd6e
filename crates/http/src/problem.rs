//! `application/problem+json` (RFC 9457) for every error, with a stable `code`.
//!
//! Handlers return [`ApiError`], built from any domain error through its
//! [`Problem`](kernel::Problem) implementation. The [`finish`] middleware adds the request id,
//! logs internal errors once, and turns bare error responses from the framework (unknown route,
//! wrong method, timeouts, panics, oversized bodies) into problems too.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kernel::{FieldError, Problem};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemBody {
    /// URI naming the problem type: `urn:tenpo:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code (docs/ERRORS.md).
    #[schema(example = "validation_failed")]
    pub code: String,
    /// Quote it when reporting a problem; it is in our logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Field errors of a `validation_failed` problem.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// An error on its way to the caller.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub fields: Vec<FieldError>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError { status, code, detail: detail.into(), fields: Vec::new(), retry_after: None }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
}

/// The code of a 503 answered when no database connection freed up in time, or a transaction
/// lost a lock race (deadlock, serialization failure): the server is busy, not broken, nothing
/// was written, and the caller should retry after `Retry-After`.
pub const OVERLOADED: &str = "overloaded";

/// Whether a transient database condition is behind the error (anywhere in its chain of
/// sources): no pool connection freed up in time, or PostgreSQL ended the transaction as a
/// deadlock victim or a serialization failure. Nothing was written; the same request retried
/// succeeds.
fn transient(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(db_err) = err.downcast_ref::<sqlx::Error>()
            && (matches!(db_err, sqlx::Error::PoolTimedOut) || db::is_retryable(db_err))
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Whether a write was refused because the store's move is frozen (a read-only transaction,
/// docs/ROUTING.md): nothing was written, the same request succeeds after the freeze.
fn frozen(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(db_err) = err.downcast_ref::<sqlx::Error>()
            && db::is_read_only(db_err)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

impl<E: Problem> From<E> for ApiError {
    fn from(e: E) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() && frozen(&e) {
            return ApiError::from(db::routing::RouteError::Moving);
        }
        if status.is_server_error() && transient(&e) {
            tracing::warn!(error = %e, "overloaded: no database connection freed up in time, or a transaction lost a lock race");
            metrics::counter!("tenpo_http_overloaded_total").increment(1);
            let detail = "the service is busy; retry after the seconds in Retry-After";
            return ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, OVERLOADED, detail)
            };
        }
        if status.is_server_error() {
            // logged here, inside the request's span (which carries the request id)
            tracing::error!(code = e.code(), error = %e, source = ?std::error::Error::source(&e), "internal error");
        }
        ApiError { status, code: e.code(), detail: e.to_string(), fields: e.fields(), retry_after: e.retry_after() }
    }
}

fn title_of(code: &str) -> String {
    let mut t = code.replace('_', " ");
    if let Some(first) = t.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    t
}

fn render(mut body: ProblemBody, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(body.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // an operator's problems say what they are: which database lags (`/readyz`)
    if status.is_server_error()
        && body.code != OVERLOADED
        && body.code != "database_lagging"
        && body.code != db::routing::STORE_DATABASE_UNAVAILABLE
        && body.code != db::routing::STORE_MOVING
    {
        body.detail = "an internal error occurred; quote the request id when reporting it".into();
        body.errors.clear();
    }
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let mut res = Response::new(Body::from(json));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    if let Some(secs) = retry_after {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    res.extensions_mut().insert(Rendered(body));
    res
}

/// Marks a rendered problem, so [`finish`] can add the request id.
#[derive(Clone)]
struct Rendered(ProblemBody);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ProblemBody {
            kind: format!("urn:tenpo:problem:{}", self.code),
            title: title_of(self.code),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_string(),
            request_id: None,
            errors: self.fields,
        };
        render(body, self.retry_after)
    }
}

/// Middleware: every error response leaves as problem+json with the request id (the console's
/// HTML pages, which show their errors themselves, excepted).
pub async fn finish(req: Request, next: Next) -> Response {
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut res = next.run(req).await;
    if let Some(Rendered(mut body)) = res.extensions_mut().remove::<Rendered>() {
        body.request_id = request_id;
        let retry = res.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()?.parse().ok());
        let mut out = render(body, retry);
        out.extensions_mut().remove::<Rendered>();
        for (name, value) in res.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                out.headers_mut().insert(name.clone(), value.clone());
            }
        }
        return out;
    }
    let status = res.status();
    let is_json =
        res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.contains("json"));
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if (status.is_client_error() || status.is_server_error()) && !is_json && !is_html {
        let (code, detail) = match status {
            StatusCode::NOT_FOUND => ("not_found", "no such endpoint"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this endpoint does not accept that method"),
            StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "send JSON with Content-Type: application/json")
            }
            s if s.is_server_error() => ("internal", "internal error"),
            _ => ("bad_request", "the request is not valid"),
        };
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "internal error from a lower layer (panic or fault)");
        }
        let allow = res.headers().get(header::ALLOW).cloned();
        let body = ProblemBody {
            kind: format!("urn:tenpo:problem:{code}"),
            title: title_of(code),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.into(),
            request_id,
            errors: Vec::new(),
        };
        let mut out = render(body, None);
        out.extensions_mut().remove::<Rendered>();
        if let Some(allow) = allow {
            out.headers_mut().insert(header::ALLOW, allow);
        }
        return out;
    }
    res
}

pub type ApiResult<T> = Result<T, ApiError>;
