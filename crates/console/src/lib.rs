//! Tenpo's admin console: server-rendered HTML pages at `/console`, in the same binary as the
//! API (docs/CONSOLE.md).
//!
//! A page request flows: session cookie -> [`session::Signed`] (the staff sign-in's own token,
//! resolved by `tenancy::auth::authenticate` exactly as a bearer token is) -> handler, which
//! opens `db.begin(tenant)` and calls the same domain service the admin API calls, with
//! `Acting::Staff(&ctx)`: permissions, vendor scope and every rule stay in the domain. Forms
//! post `application/x-www-form-urlencoded` with a CSRF token bound to the session
//! ([`session::Posted`]); a domain error re-renders the form with the API's messages next to
//! the fields. Markup is `maud` (checked at compile time); the stylesheet and the little
//! JavaScript there is are compiled into the binary ([`assets`]).

mod assets;
pub mod error;
pub mod form;
pub mod i18n;
pub mod layout;
mod pages;
mod session;
/// The value of one cookie of the request (the storefront reads its cart cookie with it too).
pub use session::cookie;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use db::Db;
use tenancy::auth::AuthSettings;

/// Where the console is mounted; every link and form action starts with it.
pub const BASE: &str = "/console";

#[derive(Debug, Clone, Default)]
pub struct ConsoleSettings {
    /// The staff sign-in's settings (session lifetime, throttling): the console signs in
    /// through the same `tenancy::auth::login`.
    pub auth: AuthSettings,
    /// Mark the session cookie `Secure` (serve the console over HTTPS only).
    pub secure_cookies: bool,
    /// Read the client address from X-Forwarded-For (behind a trusted proxy only), for the
    /// sign-in throttle.
    pub trust_forwarded_for: bool,
    /// The webhook settings: the console adds and changes endpoints with the API's URL checks.
    pub webhooks: webhooks::WebhookSettings,
    /// Where product images and digital files are stored (the API's storage); without it the
    /// upload forms answer the API's 503 `storage_unavailable`.
    pub storage: Option<storage::Storage>,
    /// The largest image upload (`images.max_bytes`), as for the API.
    pub image_max_bytes: u64,
    /// Where "now" comes from (the API's clock): the day a carrier CSV's labels ship on.
    pub clock: kernel::Clock,
}

#[derive(Clone)]
pub struct Console(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub settings: ConsoleSettings,
}

impl std::ops::Deref for Console {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The console's routes, to be nested at [`BASE`] (paths here are relative to it).
pub fn router(db: Db, settings: ConsoleSettings) -> Router {
    let routes = pages::routes(&settings);
    let state = Console(Arc::new(Inner { db, settings }));
    routes
        .merge(assets::routes())
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn(headers))
        .with_state(state)
}

/// Every console answer: the server time it took (`Server-Timing: app;dur=<ms>`, read by
/// `tenpo bench console`), no caching of pages, no framing, no sniffing, a strict CSP.
async fn headers(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let is_asset = req.uri().path().starts_with("/assets/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        h.insert("server-timing", v);
    }
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    // a printable document brings its own, stricter policy (its inline style by hash)
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    }
    res
}
