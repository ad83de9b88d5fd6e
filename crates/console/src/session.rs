//! Console sessions and CSRF.
//!
//! Signing in goes through `tenancy::auth::login`, the API's own sign-in (same throttle, same
//! session rows); the token it answers is kept in the `tenpo_console` cookie (HttpOnly,
//! SameSite=Strict, Path=/console, Secure when `secure_cookies`) instead of an Authorization
//! header, and every request resolves it with `tenancy::auth::authenticate` into the same
//! `StaffContext`. Signing out revokes the session row.
//!
//! Every form carries `_csrf`: for a signed-in member, a digest of their session token (so it
//! needs no storage and dies with the session); on the sign-in form, before any session, a
//! random value also set as the `tenpo_console_pre` cookie (double submit). A post without the
//! right token is refused with 403 `csrf_failed` before the handler runs.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kernel::Problem;
use kernel::access::StaffContext;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::Failure;
use crate::form::Fields;
use crate::i18n::Lang;
use crate::{BASE, Console};

pub const SESSION_COOKIE: &str = "tenpo_console";
pub const PRE_COOKIE: &str = "tenpo_console_pre";
pub const LANG_COOKIE: &str = "tenpo_lang";

/// The value of one cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

/// A `Set-Cookie` value for the console's cookies.
pub fn set_cookie(state: &Console, name: &str, value: &str, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path={BASE}; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if state.settings.secure_cookies {
        c.push_str("; Secure");
    }
    c
}

pub fn clear_cookie(state: &Console, name: &str) -> String {
    set_cookie(state, name, "", Some(0))
}

/// The CSRF token of a session: a digest of its token, so only a page of that session knows it.
pub fn csrf_of(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tenpo-console-csrf\0");
    h.update(token.as_bytes());
    hex::encode(h.finalize())
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(cookie(&parts.headers, LANG_COOKIE).and_then(|l| Lang::parse(&l)).unwrap_or_default())
    }
}

/// The signed-in staff member of a page request; without a live session, a redirect to the
/// sign-in page.
pub struct Signed {
    pub ctx: StaffContext,
    pub token: String,
    pub lang: Lang,
}

impl Signed {
    pub fn csrf(&self) -> String {
        csrf_of(&self.token)
    }
}

impl FromRequestParts<Console> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Console) -> Result<Self, Self::Rejection> {
        let lang = cookie(&parts.headers, LANG_COOKIE).and_then(|l| Lang::parse(&l)).unwrap_or_default();
        let to_sign_in = || {
            let mut res = Redirect::to(&format!("{BASE}/login")).into_response();
            if let Ok(v) = clear_cookie(state, SESSION_COOKIE).parse() {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Err(to_sign_in());
        };
        match tenancy::auth::authenticate(&state.db, &token).await {
            Ok(ctx) => Ok(Signed { ctx, token, lang }),
            Err(e) if e.status() == 401 => Err(to_sign_in()),
            Err(e) => Err(Failure::from(e).into_response()),
        }
    }
}

/// A form posted by a signed-in member, its CSRF token checked.
pub struct Posted {
    pub signed: Signed,
    pub form: Fields,
}

/// Refused: the form's CSRF token is missing or wrong.
pub fn csrf_failed() -> Response {
    Failure::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "このフォームは送信できません。ページを読み込み直してからもう一度送信してください。 (The form's security token is missing or out of date: reload the page and send it again.)",
    )
    .into_response()
}

async fn read_form(req: Request, state: &Console) -> Result<Fields, Response> {
    let is_form = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")
    });
    if !is_form {
        return Err(Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the form as application/x-www-form-urlencoded",
        )
        .into_response());
    }
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(|e| Failure::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", e.body_text()).into_response())?;
    Fields::parse(&bytes).map_err(IntoResponse::into_response)
}

impl FromRequest<Console> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Console) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        let form = read_form(Request::from_parts(parts, body), state).await?;
        if !same(form.get("_csrf"), &signed.csrf()) {
            return Err(csrf_failed());
        }
        Ok(Posted { signed, form })
    }
}

/// A form with a file input (`multipart/form-data`) posted by a signed-in member, its CSRF
/// token (the `_csrf` part) checked before the handler runs.
pub struct PostedParts {
    pub signed: Signed,
    pub parts: Vec<crate::form::Part>,
}

impl PostedParts {
    /// A text part's value ("" when absent).
    pub fn text(&self, name: &str) -> String {
        self.parts
            .iter()
            .find(|p| p.name == name && p.filename.is_none())
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
            .unwrap_or_default()
    }

    /// The text parts as form fields (to show them again on the form).
    pub fn fields(&self) -> Fields {
        Fields::from_pairs(
            self.parts
                .iter()
                .filter(|p| p.filename.is_none() && p.name != "_csrf")
                .map(|p| (p.name.clone(), String::from_utf8_lossy(&p.data).into_owned()))
                .collect(),
        )
    }

    /// The uploaded file of a file input, if one was chosen.
    pub fn file(&self, name: &str) -> Option<&crate::form::Part> {
        self.parts.iter().find(|p| p.name == name && p.filename.as_deref().is_some_and(|f| !f.is_empty()))
    }
}

impl FromRequest<Console> for PostedParts {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Console) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        let boundary = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::form::multipart_boundary)
            .ok_or_else(|| {
                Failure::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the form as multipart/form-data",
                )
                .into_response()
            })?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(|e| {
            Failure::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", e.body_text()).into_response()
        })?;
        let found = crate::form::multipart(&bytes, &boundary).map_err(IntoResponse::into_response)?;
        let posted = PostedParts { signed, parts: found };
        if !same(&posted.text("_csrf"), &posted.signed.csrf()) {
            return Err(csrf_failed());
        }
        Ok(posted)
    }
}

/// The sign-in form, posted before any session: its token must match the pre-session cookie.
pub struct PostedSignIn {
    pub lang: Lang,
    pub form: Fields,
    pub headers: HeaderMap,
    /// The connection's peer address.
    pub peer: Option<std::net::SocketAddr>,
}

impl FromRequest<Console> for PostedSignIn {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Console) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
        let lang = cookie(&headers, LANG_COOKIE).and_then(|l| Lang::parse(&l)).unwrap_or_default();
        let pre = cookie(&headers, PRE_COOKIE).unwrap_or_default();
        let form = read_form(req, state).await?;
        if pre.len() < 32 || !same(form.get("_csrf"), &pre) {
            return Err(csrf_failed());
        }
        Ok(PostedSignIn { lang, form, headers, peer })
    }
}
