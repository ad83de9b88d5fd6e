//! Webhook endpoints of the store, their secrets, and their delivery log (docs/WEBHOOKS.md).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kernel::{Page, PageRequest, WebhookDeliveryId, WebhookEndpointId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use webhooks::endpoint::{self, CreateEndpoint, Endpoint, EndpointWithSecret, RotateSecret, UpdateEndpoint};
use webhooks::log::{self, Delivery, DeliveryFilter, PingSent, Replay, Replayed};

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(rotate_webhook_secret))
        .routes(routes!(ping_webhook))
        .routes(routes!(replay_webhook))
        .routes(routes!(list_webhook_deliveries))
        .routes(routes!(get_webhook_delivery))
        .routes(routes!(resend_webhook_delivery))
}

/// The store's webhook endpoints (their secrets are never shown again).
#[utoipa::path(get, path = "/admin/v1/webhooks", tag = "webhooks", security(("staff" = [])), params(PageRequest),
    responses((status = 200, body = Page<Endpoint>)))]
async fn list_webhooks(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<Endpoint>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let list = endpoint::list(&mut tx, &ctx, &page).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Add a webhook endpoint. The answer carries its signing secret, shown this once.
#[utoipa::path(post, path = "/admin/v1/webhooks", tag = "webhooks", security(("staff" = [])), request_body = CreateEndpoint,
    responses((status = 201, body = EndpointWithSecret),
              (status = 422, body = ProblemBody, description = "validation_failed, webhook_https_required, webhook_private_target")))]
async fn create_webhook(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let created = endpoint::create(&mut tx, &ctx, &s.settings.webhooks, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One webhook endpoint.
#[utoipa::path(get, path = "/admin/v1/webhooks/{webhook_id}", tag = "webhooks", security(("staff" = [])),
    responses((status = 200, body = Endpoint), (status = 404, body = ProblemBody, description = "webhook_not_found")))]
async fn get_webhook(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> ApiResult<Json<Endpoint>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let e = endpoint::get(&mut tx, &ctx, id).await?;
    tx.commit().await?;
    Ok(Json(e))
}

/// Change a webhook endpoint: its URL, topics, description, or whether it is enabled.
#[utoipa::path(patch, path = "/admin/v1/webhooks/{webhook_id}", tag = "webhooks", security(("staff" = [])),
    request_body = UpdateEndpoint,
    responses((status = 200, body = Endpoint), (status = 404, body = ProblemBody, description = "webhook_not_found"),
              (status = 422, body = ProblemBody, description = "validation_failed, webhook_https_required, webhook_private_target")))]
async fn update_webhook(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    ApiJson(input): ApiJson<UpdateEndpoint>,
) -> ApiResult<Json<Endpoint>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let e = endpoint::update(&mut tx, &ctx, &s.settings.webhooks, id, input).await?;
    tx.commit().await?;
    Ok(Json(e))
}

/// Delete a webhook endpoint with its delivery log.
#[utoipa::path(delete, path = "/admin/v1/webhooks/{webhook_id}", tag = "webhooks", security(("staff" = [])),
    responses((status = 204), (status = 404, body = ProblemBody, description = "webhook_not_found")))]
async fn delete_webhook(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> ApiResult<StatusCode> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    endpoint::delete(&mut tx, &ctx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, shown this once; the old one keeps signing beside it for the overlap
/// (24 hours unless given), so receivers can switch without missing a delivery.
#[utoipa::path(post, path = "/admin/v1/webhooks/{webhook_id}/rotate-secret", tag = "webhooks", security(("staff" = [])),
    request_body = RotateSecret,
    responses((status = 200, body = EndpointWithSecret), (status = 404, body = ProblemBody, description = "webhook_not_found")))]
async fn rotate_webhook_secret(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    ApiJson(input): ApiJson<RotateSecret>,
) -> ApiResult<Json<EndpointWithSecret>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let e = endpoint::rotate_secret(&mut tx, &ctx, &s.settings.webhooks, id, input).await?;
    tx.commit().await?;
    Ok(Json(e))
}

/// Send a test event (`webhook_endpoint.ping`) to this endpoint alone.
#[utoipa::path(post, path = "/admin/v1/webhooks/{webhook_id}/ping", tag = "webhooks", security(("staff" = [])),
    responses((status = 202, body = PingSent), (status = 404, body = ProblemBody, description = "webhook_not_found")))]
async fn ping_webhook(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<WebhookEndpointId>,
) -> ApiResult<(StatusCode, Json<PingSent>)> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let sent = log::ping(&mut tx, &ctx, id).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(sent)))
}

/// Send every event of some topics recorded in a time range to this endpoint (again).
#[utoipa::path(post, path = "/admin/v1/webhooks/{webhook_id}/replay", tag = "webhooks", security(("staff" = [])),
    request_body = Replay,
    responses((status = 202, body = Replayed), (status = 404, body = ProblemBody, description = "webhook_not_found")))]
async fn replay_webhook(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    ApiJson(input): ApiJson<Replay>,
) -> ApiResult<(StatusCode, Json<Replayed>)> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let r = log::replay(&mut tx, &ctx, id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(r)))
}

/// The endpoint's deliveries, newest first, by topic, outcome and the events' time.
#[utoipa::path(get, path = "/admin/v1/webhooks/{webhook_id}/deliveries", tag = "webhooks", security(("staff" = [])),
    params(DeliveryFilter, PageRequest),
    responses((status = 200, body = Page<Delivery>), (status = 404, body = ProblemBody, description = "webhook_not_found"),
              (status = 422, body = ProblemBody, description = "validation_failed (a topic no event type matches)")))]
async fn list_webhook_deliveries(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<WebhookEndpointId>,
    ApiQuery(filter): ApiQuery<DeliveryFilter>,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<Delivery>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let list = log::list(&mut tx, &ctx, id, &filter, &page).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// One delivery with every attempt: status, duration, response headers, the first 4 KB of the
/// body, the error.
#[utoipa::path(get, path = "/admin/v1/webhooks/{webhook_id}/deliveries/{webhook_delivery_id}", tag = "webhooks",
    security(("staff" = [])),
    responses((status = 200, body = Delivery),
              (status = 404, body = ProblemBody, description = "webhook_not_found, webhook_delivery_not_found")))]
async fn get_webhook_delivery(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((id, delivery)): ApiPath<(WebhookEndpointId, WebhookDeliveryId)>,
) -> ApiResult<Json<Delivery>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let d = log::get(&mut tx, &ctx, id, delivery).await?;
    tx.commit().await?;
    Ok(Json(d))
}

/// Send one delivery again now, with a fresh retry schedule.
#[utoipa::path(post, path = "/admin/v1/webhooks/{webhook_id}/deliveries/{webhook_delivery_id}/resend", tag = "webhooks",
    security(("staff" = [])),
    responses((status = 202, body = Delivery),
              (status = 404, body = ProblemBody, description = "webhook_not_found, webhook_delivery_not_found")))]
async fn resend_webhook_delivery(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((id, delivery)): ApiPath<(WebhookEndpointId, WebhookDeliveryId)>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let d = log::resend(&mut tx, &ctx, id, delivery).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(d)))
}
