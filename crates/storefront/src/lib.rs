//! Tenpo's storefront: server-rendered shop pages at `/shop/{store}`, in the same binary as the
//! API (docs/STOREFRONT.md, "Storefront pages").
//!
//! A page request flows: the store from `{store}` (the storefront API's own resolution,
//! `http_api::shop::Shopfront`) -> handler, which calls the same domain function the
//! storefront API calls (`catalog::storefront`, `search::storefront`, `checkout::*`,
//! `digital::*`; adding to a cart and placing an order go through `http_api::shop`, the very
//! code behind the JSON routes). Catalog pages are kept in the API's read cache and answered
//! with its ETag logic. The shopper's cart is a cookie holding its id and secret (HttpOnly,
//! SameSite=Lax); a signed-in shopper's API token is a second such cookie (`signin`,
//! `account`: the pages over `customers::account`). Every form posts `application/x-www-form-urlencoded` and redirects (works
//! without JavaScript); the little script there is only enhances (postal-code autofill).
//! Markup is `maud`, texts and money through the console's `i18n`, form fields through its
//! `form`, the domain's refusals through its `error::Failure`.

mod account;
mod address;
mod assets;
mod brand;
mod cart;
mod checkout;
mod layout;
mod legal;
mod order;
mod pages;
mod shop;
mod signin;

use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_api::AppState;

/// The storefront's routes (absolute paths under `/shop/`), sharing the API's state.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/shop/{store}", get(pages::home))
        .route("/shop/{store}/", get(pages::home))
        .route("/shop/{store}/products/{handle}", get(pages::product))
        .route("/shop/{store}/search", get(pages::search))
        .route("/shop/{store}/tags/{tag}", get(pages::tag))
        .route("/shop/{store}/cart", get(cart::show))
        .route("/shop/{store}/cart/items", post(cart::add))
        .route("/shop/{store}/cart/items/{item_id}", post(cart::set_quantity))
        .route("/shop/{store}/cart/promotion", post(cart::apply_code))
        .route("/shop/{store}/cart/promotion/remove", post(cart::remove_code))
        .route("/shop/{store}/checkout", get(checkout::form).post(checkout::confirm))
        .route("/shop/{store}/checkout/edit", post(checkout::edit))
        .route("/shop/{store}/checkout/place", post(checkout::place))
        .route("/shop/{store}/account", get(account::profile).post(account::update_profile))
        .route("/shop/{store}/account/addresses", get(account::addresses).post(account::add_address))
        .route("/shop/{store}/account/addresses/{address_id}", get(account::edit_address).post(account::update_address))
        .route("/shop/{store}/account/addresses/{address_id}/delete", post(account::delete_address))
        .route("/shop/{store}/account/orders", get(account::orders))
        .route("/shop/{store}/account/orders/{order_id}", get(account::order))
        .route("/shop/{store}/account/orders/{order_id}/receipt", get(account::receipt))
        .route("/shop/{store}/account/orders/{order_id}/downloads/{delivery_id}", post(account::download))
        .route("/shop/{store}/account/signin", get(signin::sign_in_form).post(signin::sign_in))
        .route("/shop/{store}/account/signup", get(signin::sign_up_form).post(signin::sign_up))
        .route("/shop/{store}/account/verify", get(signin::verify_form).post(signin::verify))
        .route("/shop/{store}/account/verify/resend", post(signin::resend))
        .route("/shop/{store}/account/signout", post(signin::sign_out))
        .route("/shop/{store}/account/password-reset", get(signin::reset_form).post(signin::request_reset))
        .route(
            "/shop/{store}/account/password-reset/confirm",
            get(signin::reset_confirm_form).post(signin::reset_confirm),
        )
        .route("/shop/{store}/legal", get(legal::show))
        .route("/shop/{store}/privacy", get(brand::privacy))
        .route("/shop/{store}/theme.css", get(brand::theme))
        .route("/shop/{store}/cart/count", get(brand::count))
        .route("/shop/{store}/orders/{order_id}", get(order::show))
        .route("/shop/{store}/orders/{order_id}/receipt", get(order::receipt))
        .route("/shop/{store}/orders/{order_id}/downloads/{delivery_id}", post(order::download))
        .merge(assets::routes())
        .layer(axum::middleware::from_fn(headers))
}

/// Every storefront answer: the server time it took (`Server-Timing`), no framing, no
/// sniffing, a strict CSP; a post from another site's page is refused (403) before any handler
/// (the cart cookie is SameSite=Lax, this covers what Lax lets through).
async fn headers(req: Request, next: Next) -> Response {
    let started = Instant::now();
    if req.method() == Method::POST && !same_origin(&req) {
        return (StatusCode::FORBIDDEN, layout::plain_error("このフォームは別のサイトから送信されました。"))
            .into_response();
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        h.insert("server-timing", v);
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    res
}

/// A post whose `Origin` (or, without it, `Referer`) names another host is not the shop's own
/// form. Browsers send `Origin` with every form post; a client that sends neither is let
/// through (it is no browser carrying the shopper's cookie).
fn same_origin(req: &Request) -> bool {
    let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let from =
        req.headers().get(header::ORIGIN).or_else(|| req.headers().get(header::REFERER)).and_then(|v| v.to_str().ok());
    match from {
        None => true,
        Some(url) => {
            let rest = url.split_once("://").map(|(_, r)| r).unwrap_or("");
            let authority = rest.split('/').next().unwrap_or("");
            !host.is_empty() && authority.eq_ignore_ascii_case(host)
        }
    }
}
