//! The store a page addresses, the shopper's cart cookie, and the turning of the API's errors
//! into the console's [`Failure`] (what the pages show).

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use checkout::cart::CartKey;
use console::error::Failure;
use customers::account::ShopperContext;
use db::Tx;
use http_api::shop::Shopfront;
use http_api::{ApiError, AppState};
use kernel::{CartId, StoreId, TenantId};
use maud::Markup;

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

    /// A page of this shop (the store's name in its header).
    pub async fn page(&self, s: &AppState, title: &str, status: StatusCode, body: Markup) -> Response {
        let name = match self.begin(s).await {
            Ok(mut tx) => self.name(&mut tx).await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let base = self.base();
        let frame = layout::Frame { base: &base, store_name: &name, title, description: None };
        layout::respond(status, layout::page(&frame, body))
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
        self.set_cookie(CART_COOKIE, &format!("{}.{}", key.id, key.secret), 2_592_000)
    }

    /// `Set-Cookie` forgetting the cart (it was ordered or is gone).
    pub fn forget_cart(&self) -> String {
        self.set_cookie(CART_COOKIE, "", 0)
    }

    /// `Set-Cookie` keeping the signed-in shopper's token (the API's bearer token), as the cart
    /// is kept, for as long as the session lasts.
    pub fn keep_shopper(&self, token: &str, max_age_secs: u64) -> String {
        self.set_cookie(SHOPPER_COOKIE, token, max_age_secs)
    }

    /// `Set-Cookie` forgetting the shopper (signed out).
    pub fn forget_shopper(&self) -> String {
        self.set_cookie(SHOPPER_COOKIE, "", 0)
    }

    /// Every storefront cookie, with [`Shop::cookie_attributes`].
    fn set_cookie(&self, name: &str, value: &str, max_age_secs: u64) -> String {
        format!("{name}={value}; {}; Max-Age={max_age_secs}", self.cookie_attributes())
    }

    /// The signed-in shopper, from the cookie's token, resolved as the API resolves its bearer
    /// token (`customers::account::authenticate`): an unknown, expired or revoked one is nobody.
    pub async fn shopper(&self, s: &AppState, headers: &HeaderMap) -> Result<Option<ShopperContext>, Failure> {
        let Some(token) = cookie(headers, SHOPPER_COOKIE).filter(|t| !t.is_empty()) else { return Ok(None) };
        let db = s.db.store(self.store_id).await?;
        match customers::account::authenticate(&db, self.tenant_id, self.store_id, &token).await {
            Ok(ctx) => Ok(Some(ctx)),
            Err(tenancy::AuthError::InvalidToken) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// The cart cookie: its path is the store's, so each store's pages see their own cart.
pub const CART_COOKIE: &str = "tenpo_cart";
/// The signed-in shopper's cookie (a shopper's token is its store's, as the path is).
pub const SHOPPER_COOKIE: &str = "tenpo_shopper";

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
    Failure { status: e.status, code: e.code, message: e.detail, fields: e.fields, retry_after: e.retry_after }
}
