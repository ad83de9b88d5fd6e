//! `/store/v1/stores/{store}/account`: shoppers' accounts (docs/STOREFRONT.md). Sign-up sends
//! a code to the email; verifying it signs in. Signed-in calls carry
//! `Authorization: Bearer tpc_...`.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use checkout::cart::{CartKey, CartView};
use checkout::order::OrderView;
use checkout::orders::OrderSummary;
use customers::account::{
    self, Account, AccountSettings, EmailOnly, ResetPassword, ShopperContext, SignIn, SignUp, SignedIn, SignedUp,
    UpdateAccount, VerifyEmail,
};
use customers::address::{self, CreateAddress, CustomerAddress, UpdateAddress};
use kernel::access::Acting;
use kernel::{AddressId, CartId, OrderId, Page, PageRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::carts::CartSecret;
use super::storefront::Shopfront;
use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, ClientIp};
use crate::problem::{ApiError, ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(verify))
        .routes(routes!(resend_verification))
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(request_reset))
        .routes(routes!(reset_password))
        .routes(routes!(get_account, update_account))
        .routes(routes!(list_addresses, create_address))
        .routes(routes!(update_address, delete_address))
        .routes(routes!(list_account_orders))
        .routes(routes!(get_account_order))
        .routes(routes!(claim_cart))
}

/// Shoppers' session lifetime and sign-in throttle, from the server's settings.
pub fn settings(s: &AppState) -> AccountSettings {
    AccountSettings { session_ttl: s.settings.shopper_session_ttl, throttle: s.settings.auth.clone() }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The signed-in shopper of this store (`Authorization: Bearer tpc_...`).
pub struct Shopper(pub ShopperContext);

impl FromRequestParts<AppState> for Shopper {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let shop = Shopfront::from_request_parts(parts, state).await?;
        let token = bearer(parts).ok_or(tenancy::AuthError::MissingToken)?;
        Ok(Shopper(
            account::authenticate(&state.db.store(shop.store_id).await?, shop.tenant_id, shop.store_id, token).await?,
        ))
    }
}

/// The signed-in shopper, when a token is sent (a wrong token is refused, not ignored).
pub struct MaybeShopper(pub Option<ShopperContext>);

impl FromRequestParts<AppState> for MaybeShopper {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if bearer(parts).is_none() {
            return Ok(MaybeShopper(None));
        }
        Ok(MaybeShopper(Some(Shopper::from_request_parts(parts, state).await?.0)))
    }
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())
}

/// Sign up with an email and a password (at least 10 characters). A 6-digit code goes to the
/// email; `POST .../account/verify` with it signs in. An email whose account is verified
/// already answers 409 `account_exists`.
#[utoipa::path(post, path = "/store/v1/stores/{store}/account/signup", tag = "account", request_body = SignUp,
    responses((status = 201, body = SignedUp), (status = 409, body = ProblemBody, description = "account_exists"),
              (status = 422, body = ProblemBody)))]
async fn sign_up(
    State(s): State<AppState>,
    shop: Shopfront,
    ApiJson(input): ApiJson<SignUp>,
) -> ApiResult<(StatusCode, Json<SignedUp>)> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    let done = account::sign_up(&mut tx, shop.store_id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(done)))
}

/// Confirm the email with the code sent to it: the account is verified and signed in. A wrong,
/// used or expired code is 422 `invalid_code`; repeated failures are throttled (429).
#[utoipa::path(post, path = "/store/v1/stores/{store}/account/verify", tag = "account", request_body = VerifyEmail,
    responses((status = 200, body = SignedIn), (status = 422, body = ProblemBody, description = "invalid_code"),
              (status = 429, body = ProblemBody)))]
async fn verify(
    State(s): State<AppState>,
    shop: Shopfront,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(input): ApiJson<VerifyEmail>,
) -> ApiResult<Json<SignedIn>> {
    let signed = account::verify_email(
        &s.db.store(shop.store_id).await?,
        shop.tenant_id,
        shop.store_id,
        &settings(&s),
        input,
        ip,
        user_agent(&headers),
    )
    .await?;
    Ok(Json(signed))
}

/// Send a new verification code (at most one a minute). Answers 202 whatever the email.
#[utoipa::path(post, path = "/store/v1/stores/{store}/account/verify/resend", tag = "account", request_body = EmailOnly,
responses((status = 202), (status = 422, body = ProblemBody)))]
async fn resend_verification(
    State(s): State<AppState>,
    shop: Shopfront,
    ApiJson(input): ApiJson<EmailOnly>,
) -> ApiResult<StatusCode> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    account::resend_verification(&mut tx, shop.store_id, input).await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}

/// Sign in with the email and password: answers a bearer token. The account is the tenant's,
/// so it signs in at every store of the tenant. Throttled like staff sign-in (429).
#[utoipa::path(post, path = "/store/v1/stores/{store}/account/login", tag = "account", request_body = SignIn,
    responses((status = 200, body = SignedIn), (status = 401, body = ProblemBody, description = "invalid_credentials"),
              (status = 403, body = ProblemBody, description = "email_not_verified"),
              (status = 429, body = ProblemBody, description = "too_many_attempts; see Retry-After")))]
async fn sign_in(
    State(s): State<AppState>,
    shop: Shopfront,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(input): ApiJson<SignIn>,
) -> ApiResult<Json<SignedIn>> {
    let signed = account::sign_in(
        &s.db.store(shop.store_id).await?,
        shop.tenant_id,
        shop.store_id,
        &settings(&s),
        input,
        ip,
        user_agent(&headers),
    )
    .await?;
    Ok(Json(signed))
}

/// End this token's session.
#[utoipa::path(post, path = "/store/v1/stores/{store}/account/logout", tag = "account", security(("shopper" = [])),
responses((status = 204), (status = 401, body = ProblemBody)))]
async fn sign_out(State(s): State<AppState>, Shopper(ctx): Shopper) -> ApiResult<StatusCode> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    account::sign_out(&mut tx, &ctx).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a password reset code to the email, if it has an account. Answers 202 whatever the email.
#[utoipa::path(post, path = "/store/v1/stores/{store}/account/password-reset", tag = "account", request_body = EmailOnly,
responses((status = 202), (status = 422, body = ProblemBody)))]
async fn request_reset(
    State(s): State<AppState>,
    shop: Shopfront,
    ApiJson(input): ApiJson<EmailOnly>,
) -> ApiResult<StatusCode> {
    let mut tx = s.db.store(shop.store_id).await?.begin(shop.tenant_id).await?;
    account::request_password_reset(&mut tx, shop.store_id, input).await?;
    tx.commit().await?;
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with the reset code. Every session of the account ends.
#[utoipa::path(post, path = "/store/v1/stores/{store}/account/password-reset/confirm", tag = "account",
    request_body = ResetPassword,
    responses((status = 204), (status = 422, body = ProblemBody, description = "invalid_code, validation_failed"),
              (status = 429, body = ProblemBody)))]
async fn reset_password(
    State(s): State<AppState>,
    shop: Shopfront,
    ClientIp(ip): ClientIp,
    ApiJson(input): ApiJson<ResetPassword>,
) -> ApiResult<StatusCode> {
    account::reset_password(&s.db.store(shop.store_id).await?, shop.tenant_id, shop.store_id, &settings(&s), input, ip)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in shopper's profile in this store.
#[utoipa::path(get, path = "/store/v1/stores/{store}/account", tag = "account", security(("shopper" = [])),
responses((status = 200, body = Account), (status = 401, body = ProblemBody)))]
async fn get_account(State(s): State<AppState>, Shopper(ctx): Shopper) -> ApiResult<Json<Account>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let a = account::get_account(&mut tx, &ctx).await?;
    tx.commit().await?;
    Ok(Json(a))
}

/// Change the name, kana or phone.
#[utoipa::path(patch, path = "/store/v1/stores/{store}/account", tag = "account", security(("shopper" = [])),
    request_body = UpdateAccount,
    responses((status = 200, body = Account), (status = 401, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn update_account(
    State(s): State<AppState>,
    Shopper(ctx): Shopper,
    ApiJson(input): ApiJson<UpdateAccount>,
) -> ApiResult<Json<Account>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let a = account::update_account(&mut tx, &ctx, input).await?;
    tx.commit().await?;
    Ok(Json(a))
}

/// The shopper's saved addresses (the tenant's customer's: every store of the tenant sees them).
#[utoipa::path(get, path = "/store/v1/stores/{store}/account/addresses", tag = "account", security(("shopper" = [])),
responses((status = 200, body = Vec<CustomerAddress>)))]
async fn list_addresses(State(s): State<AppState>, Shopper(ctx): Shopper) -> ApiResult<Json<Vec<CustomerAddress>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let list = address::list_addresses(&mut tx, ctx.store_id, Acting::System, ctx.customer_id).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Save an address (Japanese: postal code, prefecture, city, lines, phone).
#[utoipa::path(post, path = "/store/v1/stores/{store}/account/addresses", tag = "account", security(("shopper" = [])),
    request_body = CreateAddress,
    responses((status = 201, body = CustomerAddress), (status = 422, body = ProblemBody)))]
async fn create_address(
    State(s): State<AppState>,
    Shopper(ctx): Shopper,
    ApiJson(input): ApiJson<CreateAddress>,
) -> ApiResult<(StatusCode, Json<CustomerAddress>)> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let saved = address::create_address(&mut tx, ctx.store_id, Acting::System, ctx.customer_id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// Change a saved address (absent fields stay).
#[utoipa::path(patch, path = "/store/v1/stores/{store}/account/addresses/{address_id}", tag = "account",
    security(("shopper" = [])), request_body = UpdateAddress,     responses((status = 200, body = CustomerAddress), (status = 404, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn update_address(
    State(s): State<AppState>,
    ApiPath((_store, id)): ApiPath<(String, AddressId)>,
    Shopper(ctx): Shopper,
    ApiJson(input): ApiJson<UpdateAddress>,
) -> ApiResult<Json<CustomerAddress>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let saved = address::update_address(&mut tx, ctx.store_id, Acting::System, ctx.customer_id, id, input).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

/// Delete a saved address.
#[utoipa::path(delete, path = "/store/v1/stores/{store}/account/addresses/{address_id}", tag = "account",
    security(("shopper" = [])),     responses((status = 204), (status = 404, body = ProblemBody)))]
async fn delete_address(
    State(s): State<AppState>,
    ApiPath((_store, id)): ApiPath<(String, AddressId)>,
    Shopper(ctx): Shopper,
) -> ApiResult<StatusCode> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    address::delete_address(&mut tx, ctx.store_id, Acting::System, ctx.customer_id, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The shopper's orders in this store, newest first: those placed signed in, and guest orders
/// placed with the account's verified email.
#[utoipa::path(get, path = "/store/v1/stores/{store}/account/orders", tag = "account", security(("shopper" = [])),
    params(PageRequest), responses((status = 200, body = Page<OrderSummary>)))]
async fn list_account_orders(
    State(s): State<AppState>,
    Shopper(ctx): Shopper,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<OrderSummary>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let emails = account::verified_emails(&mut tx, ctx.customer_id).await?;
    let list = checkout::orders::for_customer(&mut tx, ctx.store_id, ctx.customer_id, &emails, &page).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// One of the shopper's orders, in full.
#[utoipa::path(get, path = "/store/v1/stores/{store}/account/orders/{order_id}", tag = "account",
    security(("shopper" = [])),
    responses((status = 200, body = OrderView), (status = 404, body = ProblemBody)))]
async fn get_account_order(
    State(s): State<AppState>,
    ApiPath((_store, id)): ApiPath<(String, OrderId)>,
    Shopper(ctx): Shopper,
) -> ApiResult<Json<OrderView>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let emails = account::verified_emails(&mut tx, ctx.customer_id).await?;
    let v = checkout::orders::customer_order(&mut tx, ctx.store_id, ctx.customer_id, &emails, id).await?;
    tx.commit().await?;
    Ok(Json(v))
}

/// Give a cart opened before signing in to the account (its order then joins the history).
#[utoipa::path(put, path = "/store/v1/stores/{store}/carts/{cart_id}/customer", tag = "account",
    security(("shopper" = [])), params(("x-cart-secret" = String, Header)),
    responses((status = 200, body = CartView), (status = 404, body = ProblemBody)))]
async fn claim_cart(
    State(s): State<AppState>,
    ApiPath((_store, id)): ApiPath<(String, CartId)>,
    Shopper(ctx): Shopper,
    CartSecret(secret): CartSecret,
) -> ApiResult<Json<CartView>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let view = checkout::cart::bind_customer(&mut tx, ctx.store_id, &CartKey { id, secret }, ctx.customer_id).await?;
    tx.commit().await?;
    Ok(Json(view))
}
