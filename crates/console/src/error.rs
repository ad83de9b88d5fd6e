//! What went wrong, as the API would say it: the domain's status, stable code, message and
//! field errors (`kernel::Problem`), shown on a page instead of as problem+json. A 5xx shows no
//! details (they are logged).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use kernel::{FieldError, Problem};
use maud::html;

#[derive(Debug, Clone)]
pub struct Failure {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// Seconds to wait before trying again (a throttled sign-in), as the API's `Retry-After`.
    pub retry_after: Option<u64>,
}

impl Failure {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Failure { status, code, message: message.into(), fields: Vec::new(), retry_after: None }
    }

    /// Field errors found by the console before calling the domain (a number that is no number).
    pub fn invalid(fields: Vec<FieldError>) -> Self {
        Failure {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            message: "the request has invalid fields".into(),
            fields,
            retry_after: None,
        }
    }

    /// The message for one field, if it has one.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|f| f.field == name).map(|f| f.message.as_str())
    }

    /// Whether the person can fix it on the form (as opposed to a missing page or a fault):
    /// 413 is a file too large for an upload form.
    pub fn is_form_error(&self) -> bool {
        matches!(self.status.as_u16(), 400 | 409 | 413 | 422 | 429)
    }
}

impl<E: Problem> From<E> for Failure {
    fn from(e: E) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(code = e.code(), error = %e, "internal error in the console");
            return Failure::new(status, "internal", "an internal error occurred");
        }
        Failure { status, code: e.code(), message: e.to_string(), fields: e.fields(), retry_after: e.retry_after() }
    }
}

/// A page of its own for what cannot be shown on the form: bilingual, since it may come before
/// anything is known of the person.
impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let heading = match self.status.as_u16() {
            403 => "この操作は許可されていません / Not allowed",
            404 => "見つかりません / Not found",
            s if s >= 500 => "エラーが発生しました / Something went wrong",
            _ => "送信できませんでした / Not done",
        };
        let body = html! {
            (maud::DOCTYPE)
            html lang="ja" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (heading) }
                    link rel="stylesheet" href={ (crate::BASE) "/assets/console.css" };
                }
                body.error-page {
                    main {
                        h1 { (heading) }
                        p.problem data-code=(self.code) { (self.message) }
                        p { a href={ (crate::BASE) "/" } { "ホームへ / Home" } }
                    }
                }
            }
        };
        (self.status, Html(body.into_string())).into_response()
    }
}
