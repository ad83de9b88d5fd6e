//! Tenpo's HTTP API.
//!
//! A request flows: request id -> problem rendering -> trace span -> metrics -> panic guard ->
//! timeout -> route -> extractors (body parsed, caller resolved once) -> handler, which calls
//! one domain service in a tenant-scoped transaction and returns a DTO or an [`ApiError`].
//!
//! * `/platform/v1/...` operator (operator token)
//! * `/admin/v1/...` store staff (bearer token from `/admin/v1/auth/login`)
//! * `/store/v1/stores/{store}/...` storefront (public)
//! * `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/docs`

pub mod cache;
mod cors;
pub mod domain;
pub mod download;
pub mod event_doc;
pub mod extract;
pub mod openapi;
mod ops;
pub mod problem;
mod routes;
mod server;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use db::Db;
use tenancy::auth::AuthSettings;
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use problem::{ApiError, ApiResult, ProblemBody};

/// What the server-rendered storefront (crates/storefront) shares with the storefront API, so
/// no rule is written twice: the store a request addresses, the cached answers with their
/// ETag, shoppers' account settings, adding to a cart (the flash-sale queue included), the
/// final confirmation and placing an order.
pub mod shop {
    pub use crate::routes::account::settings as account_settings;
    pub use crate::routes::carts::{Added, add_to_cart};
    pub use crate::routes::checkout::{confirm, place};
    pub use crate::routes::storefront::{Shopfront, respond_as};
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `TENPO_OPERATOR_TOKEN`; the operator API is off without it.
    pub operator_token: Option<String>,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// Read the client address from X-Forwarded-For (behind a trusted proxy only).
    pub trust_forwarded_for: bool,
    pub auth: AuthSettings,
    /// How long a storefront answer may be served from memory (0: no caching). Changes to the
    /// catalog invalidate it at once; the time to live bounds what time alone changes.
    pub storefront_cache_ttl: Duration,
    /// How long add-to-cart of a flash-sale item waits for its decision before answering 202.
    pub hot_wait: Duration,
    /// How the hot-item queues record requests (in hand or queued).
    pub hot_queue: checkout::hot::QueueSettings,
    /// The request timeout of digital asset uploads (every other route has `request_timeout`).
    pub upload_timeout: Duration,
    /// Browser origins allowed on every route (normalised, `kernel::origin`); stores add their own.
    pub cors_origins: Vec<String>,
    /// Lifetime of a shopper's sign-in token.
    pub shopper_session_ttl: Duration,
    /// Which webhook URLs staff may save, the default rotation overlap.
    pub webhooks: webhooks::WebhookSettings,
    /// The largest product image accepted (`images.max_bytes`).
    pub image_max_bytes: u64,
    /// The origin put before `/media/...` in exported `Image Src` (`images.public_url`); the
    /// request's host when unset.
    pub image_public_url: Option<String>,
    /// Where "now" comes from for the delivery window (the system clock; tests fix it).
    pub clock: kernel::Clock,
    /// Mark the storefront pages' cookies `Secure` (`http.storefront_secure_cookies`); they are
    /// anyway when a trusted proxy says the request came over HTTPS (`X-Forwarded-Proto`).
    pub storefront_secure_cookies: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            operator_token: None,
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            trust_forwarded_for: false,
            auth: AuthSettings::default(),
            storefront_cache_ttl: Duration::from_secs(5),
            hot_wait: Duration::from_secs(2),
            hot_queue: Default::default(),
            upload_timeout: Duration::from_secs(3600),
            cors_origins: Vec::new(),
            shopper_session_ttl: Duration::from_secs(30 * 86_400),
            webhooks: webhooks::WebhookSettings::default(),
            image_max_bytes: images::ImageSettings::default().max_bytes,
            image_public_url: None,
            clock: kernel::Clock::system(),
            storefront_secure_cookies: false,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub settings: HttpSettings,
    /// Storefront answers, invalidated by catalog change notifications.
    pub cache: Arc<cache::ReadCache>,
    /// Batches flash-sale add-to-cart requests and hands back their decisions.
    pub hot: Arc<checkout::hot::HotQueue>,
    /// The storefront search index (shared with the worker in one process); without it the
    /// search endpoint answers 503.
    pub search: Option<search::Search>,
    /// Files of digital goods; without it the digital endpoints answer 503.
    pub storage: Option<storage::Storage>,
    /// The admin console's pages, nested at `/console` (built by the composition root from the
    /// `console` crate, so this crate does not depend on it).
    pub console: Option<Router>,
    /// The storefront's pages at `/shop/{store}` (crates/storefront, built by the composition
    /// root, so this crate does not depend on it). Its routes share this state.
    pub storefront: Option<Router<AppState>>,
    /// The hot-item queues of the store databases (docs/ROUTING.md), opened on first use.
    hot_of_databases: std::sync::Mutex<std::collections::HashMap<String, Arc<checkout::hot::HotQueue>>>,
    /// Stops those queues when the state goes away.
    hot_stop: tokio_util::sync::CancellationToken,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.hot_stop.cancel();
    }
}

impl AppState {
    pub fn new(db: Db, settings: HttpSettings, hot: Arc<checkout::hot::HotQueue>) -> Self {
        let cache = Arc::new(cache::ReadCache::new(settings.storefront_cache_ttl));
        AppState(Arc::new(Inner {
            db,
            settings,
            cache,
            hot,
            search: None,
            storage: None,
            console: None,
            storefront: None,
            hot_of_databases: Default::default(),
            hot_stop: Default::default(),
        }))
    }

    /// The hot-item queue of the database `db` reaches: the main one's, or a store database's
    /// (started on first use; its requests are recorded and decided there).
    pub fn hot_of(&self, db: &Db) -> Arc<checkout::hot::HotQueue> {
        if db.is_main() {
            return self.hot.clone();
        }
        let mut queues = self.hot_of_databases.lock().unwrap_or_else(|p| p.into_inner());
        queues
            .entry(db.db_key().to_string())
            .or_insert_with(|| {
                let queue = checkout::hot::HotQueue::with_settings(db.clone(), self.settings.hot_queue);
                queue.spawn(self.hot_stop.clone());
                queue
            })
            .clone()
    }

    /// Adds the search index; call before the state is cloned.
    pub fn with_search(mut self, search: search::Search) -> Self {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.search = Some(search),
            None => tracing::error!("AppState::with_search called on a shared state; search stays off"),
        }
        self
    }

    /// Adds the file storage of digital goods; call before the state is cloned.
    pub fn with_storage(mut self, storage: storage::Storage) -> Self {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.storage = Some(storage),
            None => tracing::error!("AppState::with_storage called on a shared state; storage stays off"),
        }
        self
    }
}

impl AppState {
    /// Adds the console's routes (served at `/console`); call before the state is cloned.
    pub fn with_console(mut self, console: Router) -> Self {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.console = Some(console),
            None => tracing::error!("AppState::with_console called on a shared state; the console stays off"),
        }
        self
    }
}

impl AppState {
    /// Adds the storefront's pages (their paths start with `/shop/`); call before the state is
    /// cloned.
    pub fn with_storefront(mut self, pages: Router<AppState>) -> Self {
        match Arc::get_mut(&mut self.0) {
            Some(inner) => inner.storefront = Some(pages),
            None => tracing::error!("AppState::with_storefront called on a shared state; the storefront stays off"),
        }
        self
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole API with its middleware.
pub fn router(state: AppState) -> Router {
    let (api, _) = routes::api().split_for_parts();
    // uploads stream large files: their own timeout instead of the request timeout
    let (uploads, _) = routes::uploads().split_for_parts();
    let timeout = |limit| TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, limit);
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(cors::layer(&state))
        .layer(axum::middleware::from_fn(problem::finish))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id, tenant_id = tracing::field::Empty)
        }))
        .layer(axum::middleware::from_fn(ops::record_metrics))
        .layer(axum::middleware::from_fn(extract::refuse_unstorable_text))
        .layer(CatchPanicLayer::new());
    let mut app = api.merge(ops::router(openapi::document()));
    if let Some(console) = state.console.clone() {
        app = app.nest_service("/console", console);
    }
    if let Some(pages) = state.storefront.clone() {
        app = app.merge(pages);
    }
    // a path no route takes: a store's own domain serves its storefront there, else 404
    app.fallback(domain::fallback)
        .layer(timeout(state.settings.request_timeout))
        .merge(uploads.layer(timeout(state.settings.upload_timeout)))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(layers)
        .with_state(state)
}

/// The OpenAPI document the server answers at `/openapi.json`.
pub fn openapi() -> serde_json::Value {
    openapi::document()
}

/// Serves until `shutdown` fires, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    tokio::spawn(state.cache.clone().listen(state.db.platform().clone(), shutdown.clone()));
    tokio::spawn(state.db.routes().clone().listen(state.db.platform().clone(), shutdown.clone().cancelled_owned()));
    server::run(listener, router(state), shutdown).await
}
