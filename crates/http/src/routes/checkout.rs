//! Storefront checkout: promotion codes on a cart, checkout options, placing the order, and
//! viewing it later with its order token.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use checkout::CheckoutError;
use checkout::cart::{CartKey, CartView};
use checkout::documents::{self, DocumentKind, ReceiptChoice};
use checkout::order::{self, CheckoutOptions, Confirmation, OrderView, PlaceOrder, PlacedOrder};
use checkout::promotions::{self, ApplyCode};
use kernel::{CartId, OrderId};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::carts::CartSecret;
use super::downloads::OrderToken;
use super::storefront::Shopfront;
use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, IdempotencyKey};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(apply_promotion, remove_promotion))
        .routes(routes!(checkout_options))
        .routes(routes!(confirm_order))
        .routes(routes!(place_order))
        .routes(routes!(get_order))
        .routes(routes!(order_document))
}

/// Put a promotion code on the cart. Each reason it does not apply has its own code:
/// promotion_unknown, promotion_not_started, promotion_ended, promotion_inactive,
/// promotion_below_minimum, promotion_used_up.
#[utoipa::path(put, path = "/store/v1/stores/{store}/carts/{cart_id}/promotion", tag = "checkout", request_body = ApplyCode,
    params(("x-cart-secret" = String, Header)),
    responses((status = 200, body = CartView), (status = 404, body = ProblemBody), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn apply_promotion(
    State(s): State<AppState>,
    shop: Shopfront,
    CartSecret(secret): CartSecret,
    ApiPath((_store, id)): ApiPath<(String, CartId)>,
    ApiJson(input): ApiJson<ApplyCode>,
) -> ApiResult<Json<CartView>> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let view = promotions::apply_to_cart(&mut tx, shop.store_id, &CartKey { id, secret }, input).await?;
    tx.commit().await?;
    Ok(Json(view))
}

/// Remove the promotion code from the cart.
#[utoipa::path(delete, path = "/store/v1/stores/{store}/carts/{cart_id}/promotion", tag = "checkout",
    params(("x-cart-secret" = String, Header)),
    responses((status = 200, body = CartView), (status = 404, body = ProblemBody)))]
async fn remove_promotion(
    State(s): State<AppState>,
    shop: Shopfront,
    CartSecret(secret): CartSecret,
    ApiPath((_store, id)): ApiPath<(String, CartId)>,
) -> ApiResult<Json<CartView>> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let view = promotions::remove_from_cart(&mut tx, shop.store_id, &CartKey { id, secret }).await?;
    tx.commit().await?;
    Ok(Json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct OptionsQuery {
    /// The destination prefecture (name or JIS code), for its shipping fee and delivery days.
    prefecture: Option<String>,
    /// The destination postal code, for the extra delivery days of remote islands.
    postal_code: Option<String>,
}

/// What each payment method would cost for this cart (shipping, COD fee, total, tax per rate),
/// whether it is offered, the delivery slots and the window of delivery dates.
#[utoipa::path(get, path = "/store/v1/stores/{store}/carts/{cart_id}/checkout-options", tag = "checkout",
    params(("x-cart-secret" = String, Header), OptionsQuery),
    responses((status = 200, body = CheckoutOptions), (status = 404, body = ProblemBody)))]
async fn checkout_options(
    State(s): State<AppState>,
    shop: Shopfront,
    CartSecret(secret): CartSecret,
    ApiPath((_store, id)): ApiPath<(String, CartId)>,
    ApiQuery(q): ApiQuery<OptionsQuery>,
) -> ApiResult<Json<CheckoutOptions>> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let to = order::OptionsFor { prefecture: q.prefecture.as_deref(), postal_code: q.postal_code.as_deref() };
    let now = s.settings.clock.now();
    let o = order::options_at(&mut tx, shop.store_id, &CartKey { id, secret }, to, now).await?;
    tx.commit().await?;
    Ok(Json(o))
}

/// The final confirmation (最終確認画面) of the checkout form the shopper is about to send: each
/// line's quantity and price, the total, the payment method and its fee, the delivery timing and
/// each seller's cancellation and returns terms. It takes the body placing takes, checks it as
/// placing does (the same 422 field errors, `payment_method_unavailable`, `prices_changed`) and
/// prices it by the same rule, so placing the same form charges this total. Nothing is placed.
#[utoipa::path(post, path = "/store/v1/stores/{store}/carts/{cart_id}/confirmation", tag = "checkout", request_body = PlaceOrder,
    params(("x-cart-secret" = String, Header)),
    responses((status = 200, body = Confirmation),
              (status = 409, body = ProblemBody, description = "prices_changed, cart_not_active"),
              (status = 422, body = ProblemBody, description = "validation_failed, cart_empty, payment_method_unavailable"),
              (status = 404, body = ProblemBody)))]
async fn confirm_order(
    State(s): State<AppState>,
    shop: Shopfront,
    CartSecret(secret): CartSecret,
    ApiPath((_store, id)): ApiPath<(String, CartId)>,
    ApiJson(input): ApiJson<PlaceOrder>,
) -> ApiResult<Json<Confirmation>> {
    Ok(Json(confirm(&s, &shop, &CartKey { id, secret }, &input).await?))
}

/// The final confirmation of a checkout form (nothing placed). Shared by the API and the
/// storefront pages. As placing: a `prices_changed` refusal keeps the cart's new prices, so
/// the shopper reviews the new total.
pub async fn confirm(s: &AppState, shop: &Shopfront, cart: &CartKey, input: &PlaceOrder) -> ApiResult<Confirmation> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    match order::confirm(&mut tx, shop.store_id, cart, input, s.settings.clock.now()).await {
        Ok(c) => {
            tx.commit().await?;
            Ok(c)
        }
        Err(e @ CheckoutError::PricesChanged) => {
            tx.commit().await?;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Place the order. One transaction: prices, the promotion and stock are checked again, the
/// cart's holds are consumed (what lapsed is held again if stock allows), and the order is
/// written with its payment and one shipment per vendor. The answer carries an order token,
/// shown once. The same `Idempotency-Key` returns the same order and token.
#[utoipa::path(post, path = "/store/v1/stores/{store}/carts/{cart_id}/checkout", tag = "checkout", request_body = PlaceOrder,
    params(("x-cart-secret" = String, Header), ("idempotency-key" = Option<String>, Header)),
    responses((status = 201, body = PlacedOrder),
              (status = 409, body = ProblemBody, description = "sold_out, insufficient_stock, prices_changed, promotion_used_up, cart_not_active"),
              (status = 422, body = ProblemBody, description = "validation_failed, cart_empty, payment_method_unavailable, promotion_*"),
              (status = 404, body = ProblemBody)))]
async fn place_order(
    State(s): State<AppState>,
    shop: Shopfront,
    CartSecret(secret): CartSecret,
    IdempotencyKey(key): IdempotencyKey,
    ApiPath((_store, id)): ApiPath<(String, CartId)>,
    ApiJson(input): ApiJson<PlaceOrder>,
) -> ApiResult<Response> {
    let key = key.unwrap_or_else(|| format!("auto-{}", uuid::Uuid::new_v4()));
    let (status, body) = place(&s, &shop, &CartKey { id, secret }, &input, &key).await?;
    Ok((StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED), Json(body)).into_response())
}

/// Places the cart's order under the Idempotency-Key `key` (the same key answers the same
/// order and token). Shared by the API and the storefront pages. A `prices_changed` refusal
/// keeps the cart's new prices, so the shopper can review and retry.
pub async fn place(
    s: &AppState,
    shop: &Shopfront,
    cart: &CartKey,
    input: &PlaceOrder,
    key: &str,
) -> ApiResult<(u16, serde_json::Value)> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let now = s.settings.clock.now();
    let answer = match order::place_order_at(&mut tx, shop.store_id, cart, input, key, now).await {
        Ok(answer) => answer,
        Err(e @ CheckoutError::PricesChanged) => {
            // the cart now carries today's prices: keep that, so the shopper can review and retry
            tx.commit().await?;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    Ok(answer)
}

/// An order, for the shopper who holds its token (`X-Order-Token`). A pending bank transfer
/// shows the store's bank account.
#[utoipa::path(get, path = "/store/v1/stores/{store}/orders/{order_id}", tag = "checkout",
    params(("x-order-token" = String, Header)),
    responses((status = 200, body = OrderView), (status = 404, body = ProblemBody)))]
async fn get_order(
    State(s): State<AppState>,
    shop: Shopfront,
    OrderToken(token): OrderToken,
    ApiPath((_store, id)): ApiPath<(String, OrderId)>,
) -> ApiResult<Json<OrderView>> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let v = order::by_token(&mut tx, shop.store_id, id, &token).await?;
    tx.commit().await?;
    Ok(Json(v))
}

/// The order's invoice, receipt or delivery slip as printable HTML, for the shopper who holds
/// its token (`X-Order-Token`). The receipt's `addressee` and `purpose` (但し書き) are taken by
/// the first copy only; later copies show those and say 再発行. A receipt needs the payment
/// received (409 receipt_before_payment).
#[utoipa::path(get, path = "/store/v1/stores/{store}/orders/{order_id}/documents/{kind}", tag = "checkout",
    params(("x-order-token" = String, Header), ReceiptChoice),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = ProblemBody),
              (status = 409, body = ProblemBody, description = "receipt_before_payment"), (status = 422, body = ProblemBody)))]
async fn order_document(
    State(s): State<AppState>,
    shop: Shopfront,
    OrderToken(token): OrderToken,
    ApiPath((_store, id, kind)): ApiPath<(String, OrderId, DocumentKind)>,
    ApiQuery(choice): ApiQuery<ReceiptChoice>,
) -> ApiResult<Response> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let html = documents::for_shopper(&mut tx, shop.store_id, id, &token, kind, &choice).await?;
    tx.commit().await?;
    Ok(super::admin::documents_answer(html))
}
