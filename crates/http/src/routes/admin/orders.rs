//! Order administration: the list and export, one order with its history, confirming bank
//! transfers, shipping and delivering, canceling, refunds; promotions; checkout settings.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use checkout::documents::{self, DocumentKind, ReceiptChoice};
use checkout::fulfillment::{self, CancelLines, CancelOrder, ConfirmPayment, DeliverShipment, ShipShipment};
use checkout::order::OrderView;
use checkout::orders::{self, OrderFilter, OrderSummary};
use checkout::promotions::{self, CreatePromotion, Promotion, UpdatePromotion};
use checkout::settings::{self, CheckoutSettings, UpdateCheckoutSettings};
use kernel::access::Acting;
use kernel::csv_file::CsvEncoding;
use kernel::{OrderId, Page, PageRequest, PromotionId, ShipmentId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::download::{self, CsvQuery};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders))
        .routes(routes!(export_orders))
        .routes(routes!(get_order))
        .routes(routes!(order_document))
        .routes(routes!(confirm_payment))
        .routes(routes!(ship))
        .routes(routes!(deliver))
        .routes(routes!(cancel))
        .routes(routes!(cancel_lines))
        .routes(routes!(refund_paid))
        .routes(routes!(list_promotions, create_promotion))
        .routes(routes!(get_promotion, update_promotion, delete_promotion))
        .routes(routes!(get_checkout_settings, update_checkout_settings))
}

/// Orders, newest first, filtered by status, payment, dates, number, email, name or kana,
/// phone, tracking number or overdue payment.
#[utoipa::path(get, path = "/admin/v1/orders", tag = "orders", security(("staff" = [])), params(OrderFilter, PageRequest),
    responses((status = 200, body = Page<OrderSummary>)))]
async fn list_orders(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<OrderFilter>,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<OrderSummary>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let page = orders::list(&mut tx, ctx.store_id, Acting::Staff(&ctx), &q, &page).await?;
    tx.commit().await?;
    Ok(Json(page))
}

/// The list's orders as CSV for accounting (amounts, consumption tax per rate, payment); UTF-8
/// without a BOM unless `encoding` says otherwise.
#[utoipa::path(get, path = "/admin/v1/orders/export", tag = "orders", security(("staff" = [])), params(OrderFilter, CsvQuery),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 422, body = ProblemBody, description = "csv_unencodable")))]
async fn export_orders(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<OrderFilter>,
    ApiQuery(file): ApiQuery<CsvQuery>,
) -> ApiResult<Response> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let csv = orders::export(&mut tx, ctx.store_id, Acting::Staff(&ctx), &q).await?;
    tx.commit().await?;
    download::csv(&csv, &file, CsvEncoding::Utf8, "orders.csv")
}

/// One order with items, tax lines, addresses, payment, shipments and its status history.
#[utoipa::path(get, path = "/admin/v1/orders/{order_id}", tag = "orders", security(("staff" = [])),
    responses((status = 200, body = OrderView), (status = 404, body = ProblemBody)))]
async fn get_order(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<OrderId>,
) -> ApiResult<Json<OrderView>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let v = orders::get(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(v))
}

/// The order's invoice (請求書), receipt (領収書) or delivery slip (納品書) as HTML for printing
/// on A4: the stored lines (※ reduced rate), totals and tax per rate, the registration number,
/// one page per seller (a vendor's staff: their part). A receipt needs the payment received; its
/// addressee and 但し書き are fixed by the first copy, later copies say 再発行 (docs/JAPAN.md).
#[utoipa::path(get, path = "/admin/v1/orders/{order_id}/documents/{kind}", tag = "orders", security(("staff" = [])),
    params(ReceiptChoice),
    responses((status = 200, content_type = "text/html", body = String), (status = 404, body = ProblemBody),
              (status = 409, body = ProblemBody, description = "receipt_before_payment"), (status = 422, body = ProblemBody)))]
async fn order_document(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((id, kind)): ApiPath<(OrderId, DocumentKind)>,
    ApiQuery(choice): ApiQuery<ReceiptChoice>,
) -> ApiResult<Response> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let html = documents::for_staff(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, kind, &choice).await?;
    tx.commit().await?;
    Ok(documents_answer(html))
}

/// A printable document: HTML, never cached (it holds the shopper's name).
pub(crate) fn documents_answer(html: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html).into_response()
}

/// Record a bank transfer received. The exact amount confirms the payment; more confirms it
/// and records a refund owed; less is recorded and flagged, and the order keeps waiting
/// unless `accept_short`.
#[utoipa::path(post, path = "/admin/v1/orders/{order_id}/payments/confirm", tag = "orders", security(("staff" = [])), request_body = ConfirmPayment,
    responses((status = 200, body = OrderView), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn confirm_payment(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<OrderId>,
    ApiJson(input): ApiJson<ConfirmPayment>,
) -> ApiResult<Json<OrderView>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let v = fulfillment::confirm_bank_transfer(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok(Json(v))
}

/// A shipment leaves with its carrier and tracking number.
#[utoipa::path(post, path = "/admin/v1/orders/{order_id}/shipments/{shipment_id}/ship", tag = "orders", security(("staff" = [])),
    request_body = ShipShipment,
    responses((status = 200, body = OrderView), (status = 409, body = ProblemBody, description = "order_not_paid, illegal_shipment_transition")))]
async fn ship(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((id, shipment)): ApiPath<(OrderId, ShipmentId)>,
    ApiJson(input): ApiJson<ShipShipment>,
) -> ApiResult<Json<OrderView>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let v = fulfillment::ship(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, shipment, input).await?;
    tx.commit().await?;
    Ok(Json(v))
}

/// A shipment arrived. Cash on delivery: record what was collected (required on the last).
#[utoipa::path(post, path = "/admin/v1/orders/{order_id}/shipments/{shipment_id}/deliver", tag = "orders", security(("staff" = [])),
    request_body = DeliverShipment,
    responses((status = 200, body = OrderView), (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn deliver(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((id, shipment)): ApiPath<(OrderId, ShipmentId)>,
    ApiJson(input): ApiJson<DeliverShipment>,
) -> ApiResult<Json<OrderView>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let v = fulfillment::deliver(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, shipment, input).await?;
    tx.commit().await?;
    Ok(Json(v))
}

/// Cancel an order that has not shipped: stock returns, the promotion use is released, a
/// received payment becomes a refund owed.
#[utoipa::path(post, path = "/admin/v1/orders/{order_id}/cancel", tag = "orders", security(("staff" = [])), request_body = CancelOrder,
    responses((status = 200, body = OrderView), (status = 409, body = ProblemBody, description = "order_already_shipped, order_canceled")))]
async fn cancel(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<OrderId>,
    ApiJson(input): ApiJson<CancelOrder>,
) -> ApiResult<Json<OrderView>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let v = fulfillment::cancel(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok(Json(v))
}

/// Cancel lines that have not left (mall mode): a vendor's staff cancel their own vendor's
/// (all of them when `line_ids` is left out), the mall's staff the lines they name. Their stock
/// returns; the order's totals and tax are those of the lines left; the payment asks for less
/// and what was paid above it is owed back; other vendors' lines are untouched.
#[utoipa::path(post, path = "/admin/v1/orders/{order_id}/cancel-lines", tag = "orders", security(("staff" = [])), request_body = CancelLines,
    responses((status = 200, body = OrderView), (status = 404, body = ProblemBody, description = "order_not_found, order_line_not_found"),
              (status = 409, body = ProblemBody, description = "order_already_shipped, order_canceled, order_line_canceled, order_line_delivered")))]
async fn cancel_lines(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<OrderId>,
    ApiJson(input): ApiJson<CancelLines>,
) -> ApiResult<Json<OrderView>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let v = fulfillment::cancel_lines(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok(Json(v))
}

/// Record that the refund owed was paid (offline).
#[utoipa::path(post, path = "/admin/v1/orders/{order_id}/refund-paid", tag = "orders", security(("staff" = [])),
    responses((status = 200, body = OrderView), (status = 409, body = ProblemBody, description = "no_refund_owed")))]
async fn refund_paid(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<OrderId>,
) -> ApiResult<Json<OrderView>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let v = fulfillment::mark_refunded(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(v))
}

/// List promotion codes.
#[utoipa::path(get, path = "/admin/v1/promotions", tag = "promotions", security(("staff" = [])), params(PageRequest),
    responses((status = 200, body = Page<Promotion>)))]
async fn list_promotions(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<Promotion>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let p = promotions::list(&mut tx, ctx.store_id, Acting::Staff(&ctx), &page).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// Create a promotion code: a fixed amount (`amount_off`) or a percentage (`percent_off_bps`)
/// off, with an optional window, minimum and usage limits.
#[utoipa::path(post, path = "/admin/v1/promotions", tag = "promotions", security(("staff" = [])), request_body = CreatePromotion,
    responses((status = 201, body = Promotion), (status = 409, body = ProblemBody, description = "promotion_code_taken"), (status = 422, body = ProblemBody)))]
async fn create_promotion(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<CreatePromotion>,
) -> ApiResult<(StatusCode, Json<Promotion>)> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let p = promotions::create(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// One promotion code with its usage.
#[utoipa::path(get, path = "/admin/v1/promotions/{promotion_id}", tag = "promotions", security(("staff" = [])),
    responses((status = 200, body = Promotion), (status = 404, body = ProblemBody)))]
async fn get_promotion(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<PromotionId>,
) -> ApiResult<Json<Promotion>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let p = promotions::get(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// Change a promotion code.
#[utoipa::path(patch, path = "/admin/v1/promotions/{promotion_id}", tag = "promotions", security(("staff" = [])), request_body = UpdatePromotion,
    responses((status = 200, body = Promotion), (status = 404, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn update_promotion(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<PromotionId>,
    ApiJson(input): ApiJson<UpdatePromotion>,
) -> ApiResult<Json<Promotion>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let p = promotions::update(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// Delete a promotion code (orders keep their discount).
#[utoipa::path(delete, path = "/admin/v1/promotions/{promotion_id}", tag = "promotions", security(("staff" = [])),
    responses((status = 204), (status = 404, body = ProblemBody)))]
async fn delete_promotion(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<PromotionId>,
) -> ApiResult<StatusCode> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    promotions::delete(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The store's checkout settings: shipping fees, payment methods, COD fee and limit.
#[utoipa::path(get, path = "/admin/v1/store/checkout-settings", tag = "orders", security(("staff" = [])),
    responses((status = 200, body = CheckoutSettings)))]
async fn get_checkout_settings(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<CheckoutSettings>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let r = settings::get(&mut tx, ctx.store_id, Acting::Staff(&ctx)).await?;
    tx.commit().await?;
    Ok(Json(r))
}

/// Payment methods, the bank account, COD limit and fee tiers, shipping fees (flat,
/// free-shipping threshold, per prefecture) and delivery slots. Lists replace what was there.
#[utoipa::path(patch, path = "/admin/v1/store/checkout-settings", tag = "orders", security(("staff" = [])), request_body = UpdateCheckoutSettings,
    responses((status = 200, body = CheckoutSettings), (status = 422, body = ProblemBody)))]
async fn update_checkout_settings(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<UpdateCheckoutSettings>,
) -> ApiResult<Json<CheckoutSettings>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let r = settings::update(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok(Json(r))
}
