//! `/store/v1/stores/{store}/carts`: shoppers' carts. A cart is addressed by its id and the
//! secret handed out when it was made (`X-Cart-Secret`); unsafe calls honour `Idempotency-Key`.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use checkout::CheckoutError;
use checkout::cart::{self, CartKey, CartView, CreateCart, CreatedCart};
use checkout::hot::HotAnswer;
use checkout::items::{self, AddItem, Decision, RequestRecord, RequestStatus, SetQuantity};
use kernel::{CartId, CartItemId, ReservationRequestId};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::account::MaybeShopper;
use super::storefront::Shopfront;
use crate::AppState;
use crate::extract::{ApiJson, ApiPath, IdempotencyKey};
use crate::problem::{ApiError, ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_cart))
        .routes(routes!(get_cart))
        .routes(routes!(add_item))
        .routes(routes!(set_quantity, remove_item))
        .routes(routes!(abandon_cart))
        .routes(routes!(get_request))
}

/// The cart secret from `X-Cart-Secret`. Without it the cart is not found, as with a wrong one.
pub struct CartSecret(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CartSecret {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get("x-cart-secret")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 200)
            .map(|v| CartSecret(v.to_string()))
            .ok_or_else(|| CheckoutError::CartNotFound.into())
    }
}

/// Create a cart. Signed in (`Authorization: Bearer tpc_...`), the cart is the account's and
/// its order joins the order history. Keep the `secret`: every call on the cart needs it as `X-Cart-Secret`. A
/// retry with the same `Idempotency-Key` answers the same cart and secret instead of a second
/// cart (the key with another body: 422 `idempotency_key_reused`).
#[utoipa::path(post, path = "/store/v1/stores/{store}/carts", tag = "cart", request_body = CreateCart, security((), ("shopper" = [])),
    params(("idempotency-key" = Option<String>, Header)),
    responses((status = 201, body = CreatedCart), (status = 404, body = ProblemBody),
              (status = 422, body = ProblemBody, description = "idempotency_key_reused, validation_failed")))]
async fn create_cart(
    State(s): State<AppState>,
    shop: Shopfront,
    MaybeShopper(shopper): MaybeShopper,
    IdempotencyKey(idem): IdempotencyKey,
    ApiJson(input): ApiJson<CreateCart>,
) -> ApiResult<Response> {
    let customer = shopper.map(|c| c.customer_id);
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let (status, body) = cart::create_cart(&mut tx, shop.store_id, input, customer, idem.as_deref()).await?;
    tx.commit().await?;
    Ok((StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED), Json(body)).into_response())
}

/// The cart with its lines, holds and totals.
#[utoipa::path(get, path = "/store/v1/stores/{store}/carts/{cart_id}", tag = "cart",
    params(("x-cart-secret" = String, Header)),
    responses((status = 200, body = CartView), (status = 404, body = ProblemBody)))]
async fn get_cart(
    State(s): State<AppState>,
    shop: Shopfront,
    CartSecret(secret): CartSecret,
    ApiPath((_store, id)): ApiPath<(String, CartId)>,
) -> ApiResult<Json<CartView>> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let view = cart::get_cart(&mut tx, shop.store_id, &CartKey { id, secret }).await?;
    tx.commit().await?;
    Ok(Json(view))
}

/// What became of an add-to-cart. GET the cart for its lines and totals.
#[derive(Serialize, ToSchema)]
struct AddedToCart {
    request_id: ReservationRequestId,
    /// `held`: stock is held for you; `added`: added without a hold (digital goods).
    status: &'static str,
    variant_id: kernel::VariantId,
    /// Units this request added.
    quantity: i32,
    /// The cart line the units went to.
    item_id: Option<CartItemId>,
    /// The stock held for them.
    reservation_id: Option<kernel::ReservationId>,
}

#[derive(Serialize, ToSchema)]
struct Queued {
    request_id: ReservationRequestId,
    status: &'static str,
    /// GET it to learn the decision.
    poll_url: String,
}

fn queued(store: &str, cart: CartId, id: ReservationRequestId) -> Response {
    let url = format!("/store/v1/stores/{store}/carts/{cart}/requests/{id}");
    let mut res = (StatusCode::ACCEPTED, Json(Queued { request_id: id, status: "queued", poll_url: url.clone() }))
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&url) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

fn decided(record: &RequestRecord) -> ApiResult<Response> {
    match record.decision() {
        Decision::Refused(r) => Err(CheckoutError::Refused(r).into()),
        Decision::Pending => Ok(StatusCode::ACCEPTED.into_response()),
        d => {
            let status = if matches!(d, Decision::Added) { "added" } else { "held" };
            let body = AddedToCart {
                request_id: record.id,
                status,
                variant_id: record.variant_id,
                quantity: record.quantity,
                item_id: record.cart_item_id,
                reservation_id: record.reservation_id,
            };
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
    }
}

/// Add a variant to the cart. Physical goods are held in stock for the store's reservation
/// time (201, `held`); a sold-out variant answers 409 `sold_out` (or `insufficient_stock`,
/// `limit_exceeded`). Flash-sale variants are decided by a queue in arrival order: the call
/// waits briefly for the decision, else answers 202 with a URL to poll. The same
/// `Idempotency-Key` on the same cart answers the same result and never holds twice.
#[utoipa::path(post, path = "/store/v1/stores/{store}/carts/{cart_id}/items", tag = "cart", request_body = AddItem,
    params(("x-cart-secret" = String, Header), ("idempotency-key" = Option<String>, Header)),
    responses((status = 201, body = AddedToCart), (status = 202, body = Queued),
              (status = 409, body = ProblemBody, description = "sold_out, insufficient_stock, limit_exceeded, cart_not_active"),
              (status = 404, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn add_item(
    State(s): State<AppState>,
    shop: Shopfront,
    CartSecret(secret): CartSecret,
    IdempotencyKey(idem): IdempotencyKey,
    ApiPath((store, id)): ApiPath<(String, CartId)>,
    ApiJson(input): ApiJson<AddItem>,
) -> ApiResult<Response> {
    let key = CartKey { id, secret };
    match add_to_cart(&s, &shop, &key, &input, idem).await? {
        Added::Decided(record) => decided(&record),
        Added::Queued(request) => Ok(queued(&store, id, request)),
    }
}

/// What became of an add-to-cart: the API's answer and the storefront pages' notice.
pub enum Added {
    /// Held, added or refused, as the record's decision says (still pending only when its
    /// decision came back undecided).
    Decided(RequestRecord),
    /// Queued for the flash-sale decision, in arrival order: ask for this request later.
    Queued(ReservationRequestId),
}

/// Adds a variant to a cart: flash-sale variants through the hot queue (waiting up to
/// `hot_wait` for the decision), others at once. Shared by the API and the storefront pages.
pub async fn add_to_cart(
    s: &AppState,
    shop: &Shopfront,
    key: &CartKey,
    input: &AddItem,
    idem: Option<String>,
) -> ApiResult<Added> {
    let wait = s.settings.hot_wait;
    let quantity = input.quantity.unwrap_or(1);
    let idem_key = idem.unwrap_or_else(|| format!("auto-{}", uuid::Uuid::new_v4()));
    let db = s.db.store(shop.store_id).await?;
    // the hot queue writes on its own connection, not through a frozen handle's transaction
    db.writable()?;
    let hot = s.hot_of(&db);
    if hot.known_hot(input.variant_id) && (1..=1000).contains(&quantity) {
        match hot
            .submit_and_wait(shop.tenant_id, shop.store_id, key, input.variant_id, quantity, idem_key.clone(), wait)
            .await?
        {
            HotAnswer::Decided(record) => return Ok(Added::Decided(record)),
            HotAnswer::Pending(request) => return Ok(Added::Queued(request)),
            HotAnswer::Rejected => {} // the normal path answers precisely
        }
    }
    let mut tx = db.begin(shop.tenant_id).await?;
    let result = items::add_item(&mut tx, shop.store_id, key, input, Some(&idem_key)).await?;
    tx.commit().await?;
    let Some(result) = result else {
        // a hot variant: it goes through the queue, in arrival order
        hot.remember(input.variant_id, true);
        return match hot
            .submit_and_wait(shop.tenant_id, shop.store_id, key, input.variant_id, quantity, idem_key, wait)
            .await?
        {
            HotAnswer::Decided(record) => Ok(Added::Decided(record)),
            HotAnswer::Pending(request) => Ok(Added::Queued(request)),
            HotAnswer::Rejected => Err(CheckoutError::CartNotFound.into()),
        };
    };
    hot.remember(input.variant_id, result.request.is_hot);
    if result.decision == Decision::Pending {
        return match hot.wait(shop.tenant_id, result.request.id, wait).await? {
            Some(record) => Ok(Added::Decided(record)),
            None => Ok(Added::Queued(result.request.id)),
        };
    }
    Ok(Added::Decided(result.request))
}

/// Change a line's quantity (0 removes it). More units are held when available; fewer give
/// stock back at once. Flash-sale lines can only go down here.
#[utoipa::path(patch, path = "/store/v1/stores/{store}/carts/{cart_id}/items/{item_id}", tag = "cart", request_body = SetQuantity,
    params(("x-cart-secret" = String, Header)),
    responses((status = 200, body = CartView), (status = 404, body = ProblemBody), (status = 409, body = ProblemBody)))]
async fn set_quantity(
    State(s): State<AppState>,
    shop: Shopfront,
    CartSecret(secret): CartSecret,
    ApiPath((_store, id, item)): ApiPath<(String, CartId, CartItemId)>,
    ApiJson(input): ApiJson<SetQuantity>,
) -> ApiResult<Json<CartView>> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let view = items::set_quantity(&mut tx, shop.store_id, &CartKey { id, secret }, item, &input).await?;
    tx.commit().await?;
    Ok(Json(view))
}

/// Remove a line; its held stock returns at once.
#[utoipa::path(delete, path = "/store/v1/stores/{store}/carts/{cart_id}/items/{item_id}", tag = "cart",
    params(("x-cart-secret" = String, Header)),
    responses((status = 200, body = CartView), (status = 404, body = ProblemBody)))]
async fn remove_item(
    State(s): State<AppState>,
    shop: Shopfront,
    CartSecret(secret): CartSecret,
    ApiPath((_store, id, item)): ApiPath<(String, CartId, CartItemId)>,
) -> ApiResult<Json<CartView>> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let view = items::remove_item(&mut tx, shop.store_id, &CartKey { id, secret }, item).await?;
    tx.commit().await?;
    Ok(Json(view))
}

/// Abandon the cart: every hold is released.
#[utoipa::path(post, path = "/store/v1/stores/{store}/carts/{cart_id}/abandon", tag = "cart",
    params(("x-cart-secret" = String, Header)),
    responses((status = 200, body = CartView), (status = 404, body = ProblemBody), (status = 409, body = ProblemBody)))]
async fn abandon_cart(
    State(s): State<AppState>,
    shop: Shopfront,
    CartSecret(secret): CartSecret,
    ApiPath((_store, id)): ApiPath<(String, CartId)>,
) -> ApiResult<Json<CartView>> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let view = cart::abandon(&mut tx, shop.store_id, &CartKey { id, secret }).await?;
    tx.commit().await?;
    Ok(Json(view))
}

#[derive(Serialize, ToSchema)]
struct RequestState {
    request_id: ReservationRequestId,
    /// `queued`, `held`, `added` or `refused`
    status: &'static str,
    /// Why it was refused: sold_out, insufficient_stock, limit_exceeded, ...
    failure_code: Option<String>,
    quantity: i32,
}

/// The decision on a queued add-to-cart.
#[utoipa::path(get, path = "/store/v1/stores/{store}/carts/{cart_id}/requests/{request_id}", tag = "cart",
    params(("x-cart-secret" = String, Header)),
    responses((status = 200, body = RequestState), (status = 404, body = ProblemBody)))]
async fn get_request(
    State(s): State<AppState>,
    shop: Shopfront,
    CartSecret(secret): CartSecret,
    ApiPath((_store, id, request)): ApiPath<(String, CartId, ReservationRequestId)>,
) -> ApiResult<Json<RequestState>> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let r = items::get_request(&mut tx, shop.store_id, &CartKey { id, secret }, request).await?;
    tx.commit().await?;
    let status = match (r.status, r.decision()) {
        (RequestStatus::Queued | RequestStatus::Processing, _) => "queued",
        (_, Decision::Held { .. }) => "held",
        (_, Decision::Added) => "added",
        _ => "refused",
    };
    Ok(Json(RequestState { request_id: r.id, status, failure_code: r.failure_code, quantity: r.quantity }))
}
