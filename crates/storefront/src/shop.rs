//! The store a page addresses, the shopper's cart cookie, and the turning of the API's errors
//! into the console's [`Failure`] (what the pages show).

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use checkout::cart::CartKey;
use console::error::Failure;
use db::Tx;
use http_api::shop::Shopfront;
use http_api::{ApiError, AppState};
use kernel::{CartId, StoreId, TenantId};

use crate::layout;

/// The active store of `/shop/{store}`: a store that does not exist or is inactive is a page
/// saying so (404), as the storefront API answers 404 for it.
pub struct Shop {
    /// `{store}` as written in the URL (the handle, usually): every link starts with it.
    pub handle: String,
    pub tenant_id: TenantId,
    pub store_id: StoreId,
    /// The request came in at the store's own domain (`http_api::domain`): the pages are at
    /// its `/`.
    pub at_domain: bool,
    /// Cookies go out `Secure` (`http.storefront_secure_cookies`, or HTTPS per a trusted proxy).
    pub secure: bool,
}

impl Shop {
    /// `/shop/{store}`, or nothing at the store's own domain: links and form actions start
    /// with it.
    pub fn base(&self) -> String {
        if self.at_domain { String::new() } else { format!("/shop/{}", self.handle) }
    }

    /// The cookies' `Path`: the store's pages only.
    fn cookie_path(&self) -> String {
        if self.at_domain { "/".into() } else { self.base() }
    }

    /// What every cookie of the storefront carries after its value: the store's path, HttpOnly
    /// (no script reads it), SameSite=Lax (a link from elsewhere still shows the cart, another
    /// site's form does not carry it) and, over HTTPS, Secure.
    pub fn cookie_attributes(&self) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("Path={}; HttpOnly; SameSite=Lax{secure}", self.cookie_path())
    }

    pub async fn begin(&self, s: &AppState) -> Result<Tx, Failure> {
        Ok(s.db.store(self.store_id).await?.begin(self.tenant_id).await?)
    }

    pub fn front(&self) -> Shopfront {
        Shopfront { tenant_id: self.tenant_id, store_id: self.store_id }
    }

    /// The name the store goes by (its settings), for the page's header.
    pub async fn name(&self, tx: &mut Tx) -> Result<String, Failure> {
        Ok(tenancy::stores::get_store(tx, self.store_id).await?.name)
    }

    /// The store's name, branding and privacy policy.
    pub async fn look(&self, tx: &mut Tx) -> Result<tenancy::settings::Storefront, Failure> {
        Ok(tenancy::settings::storefront(tx, self.store_id).await?)
    }

    /// The shopper's cart, from the cookie (`<cart id>.<secret>`), if there is one.
    pub fn cart(&self, headers: &HeaderMap) -> Option<CartKey> {
        let raw = cookie(headers, CART_COOKIE)?;
        let (id, secret) = raw.split_once('.')?;
        let id: CartId = id.parse().ok()?;
        (!secret.is_empty() && secret.len() <= 200).then(|| CartKey { id, secret: secret.to_string() })
    }

    /// `Set-Cookie` keeping the cart ([`Shop::cookie_attributes`]), 30 days.
    pub fn keep_cart(&self, key: &CartKey) -> String {
        format!("{CART_COOKIE}={}.{}; {}; Max-Age=2592000", key.id, key.secret, self.cookie_attributes())
    }

    /// `Set-Cookie` forgetting the cart (it was ordered or is gone).
    pub fn forget_cart(&self) -> String {
        format!("{CART_COOKIE}=; {}; Max-Age=0", self.cookie_attributes())
    }
}

/// The cart cookie: its path is the store's, so each store's pages see their own cart.
pub const CART_COOKIE: &str = "tenpo_cart";

impl FromRequestParts<AppState> for Shop {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        let raw = params.iter().find(|(k, _)| *k == "store").map(|(_, v)| v.to_string()).unwrap_or_default();
        let at_domain = parts.extensions.get::<http_api::domain::AtDomain>().is_some();
        let forwarded_https = state.settings.trust_forwarded_for
            && parts
                .headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
        let secure = state.settings.storefront_secure_cookies || forwarded_https;
        match Shopfront::resolve(state, raw.clone()).await {
            Ok(Some(front)) => {
                Ok(Shop { handle: raw, tenant_id: front.tenant_id, store_id: front.store_id, at_domain, secure })
            }
            Ok(None) => Err(not_found()),
            Err(e) => Err(layout::failure_page(None, &Failure::from(e))),
        }
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, layout::plain_error("お探しのお店は見つかりませんでした。")).into_response()
}

pub use console::cookie;

/// What the API would answer, as a page shows it.
pub fn from_api(e: ApiError) -> Failure {
    Failure { status: e.status, code: e.code, message: e.detail, fields: e.fields }
}
