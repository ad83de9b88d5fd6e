//! Digital goods for staff: the file of a digital variant (upload, replace, metadata) and the
//! deliveries of an order (list, deliver what is missing, revoke, extend, reset or raise the
//! limit).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use digital::DigitalError;
use digital::asset::{self, Asset, Upload};
use digital::delivery::{self, ChangeDownloadLimit, Delivery, ExtendDelivery, OrderDeliveries, RevokeDelivery};
use kernel::access::Acting;
use kernel::{AssetId, DeliveryId, OrderId, ProductId, VariantId};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_variant_asset))
        .routes(routes!(get_asset))
        .routes(routes!(list_deliveries, deliver_missing))
        .routes(routes!(revoke_delivery))
        .routes(routes!(extend_delivery))
        .routes(routes!(change_download_limit))
}

/// The upload route, apart: it streams up to `storage.max_object_bytes`, so the body limit is
/// lifted (storage enforces its own) and it gets the upload timeout (see `crate::router`).
pub fn uploads() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_asset)).layer(axum::extract::DefaultBodyLimit::disable())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadParams {
    /// The name the shopper's download is saved as, e.g. `抹茶の淹れ方.pdf`.
    filename: String,
}

/// Upload the file of a digital variant, or replace it: the request body is the file itself,
/// streamed (send its type as `Content-Type`; `application/octet-stream` when absent). Size,
/// SHA-256 and type are recorded; the variant then refers to the new asset. Buyers before a
/// replacement keep the file they bought (docs/DIGITAL.md).
#[utoipa::path(put, path = "/admin/v1/products/{product_id}/variants/{variant_id}/asset", tag = "digital",
    security(("staff" = [])), params(UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file"),
    responses((status = 201, body = Asset), (status = 404, body = ProblemBody),
              (status = 413, body = ProblemBody, description = "asset_too_large"),
              (status = 422, body = ProblemBody, description = "variant_not_digital, validation_failed"),
              (status = 503, body = ProblemBody, description = "storage_unavailable")))]
async fn upload_asset(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((product_id, variant_id)): ApiPath<(ProductId, VariantId)>,
    ApiQuery(q): ApiQuery<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<Asset>)> {
    let storage = s.storage.as_ref().ok_or(DigitalError::StorageUnavailable)?;
    let text = |name| headers.get(name).and_then(|v: &header::HeaderValue| v.to_str().ok());
    let upload = Upload {
        filename: q.filename,
        content_type: text(header::CONTENT_TYPE).map(str::to_string),
        content_length: text(header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
    };
    let asset = asset::upload(
        &s.db.store(ctx.store_id).await?,
        storage,
        ctx.tenant_id,
        ctx.store_id,
        Acting::Staff(&ctx),
        product_id,
        variant_id,
        upload,
        body.into_data_stream(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(asset)))
}

/// The file a digital variant sells (404 `asset_not_found` until one is uploaded).
#[utoipa::path(get, path = "/admin/v1/products/{product_id}/variants/{variant_id}/asset", tag = "digital",
    security(("staff" = [])), responses((status = 200, body = Asset), (status = 404, body = ProblemBody)))]
async fn get_variant_asset(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((product_id, variant_id)): ApiPath<(ProductId, VariantId)>,
) -> ApiResult<Json<Asset>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let a = asset::variant_asset(&mut tx, ctx.store_id, Acting::Staff(&ctx), product_id, variant_id).await?;
    tx.commit().await?;
    Ok(Json(a))
}

/// A stored file of the store: name, type, size, SHA-256, provider.
#[utoipa::path(get, path = "/admin/v1/digital-assets/{asset_id}", tag = "digital", security(("staff" = [])),
    responses((status = 200, body = Asset), (status = 404, body = ProblemBody)))]
async fn get_asset(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<AssetId>,
) -> ApiResult<Json<Asset>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let a = asset::get_asset(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(a))
}

/// The order's downloads, with their period, limit and count, and its digital items not
/// delivered yet.
#[utoipa::path(get, path = "/admin/v1/orders/{order_id}/deliveries", tag = "digital", security(("staff" = [])),
    responses((status = 200, body = OrderDeliveries), (status = 404, body = ProblemBody)))]
async fn list_deliveries(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(order): ApiPath<OrderId>,
) -> ApiResult<Json<OrderDeliveries>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let d = delivery::list_for_staff(&mut tx, ctx.store_id, Acting::Staff(&ctx), order).await?;
    tx.commit().await?;
    Ok(Json(d))
}

/// Deliver the paid order's digital items that have no download yet (their variant had no file
/// when the payment was confirmed). Items already delivered are left as they are.
#[utoipa::path(post, path = "/admin/v1/orders/{order_id}/deliveries", tag = "digital", security(("staff" = [])),
    responses((status = 200, body = OrderDeliveries), (status = 404, body = ProblemBody),
              (status = 409, body = ProblemBody, description = "order_not_paid, order_canceled")))]
async fn deliver_missing(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(order): ApiPath<OrderId>,
) -> ApiResult<Json<OrderDeliveries>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let d = delivery::deliver_missing(&mut tx, ctx.store_id, Acting::Staff(&ctx), order).await?;
    tx.commit().await?;
    Ok(Json(d))
}

/// Revoke a download: later requests answer 410 `download_revoked`. Final.
#[utoipa::path(post, path = "/admin/v1/orders/{order_id}/deliveries/{delivery_id}/revoke", tag = "digital",
    security(("staff" = [])), request_body = RevokeDelivery,
    responses((status = 200, body = Delivery), (status = 404, body = ProblemBody),
              (status = 409, body = ProblemBody, description = "delivery_revoked")))]
async fn revoke_delivery(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((order, id)): ApiPath<(OrderId, DeliveryId)>,
    ApiJson(input): ApiJson<RevokeDelivery>,
) -> ApiResult<Json<Delivery>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let d = delivery::revoke(&mut tx, ctx.store_id, Acting::Staff(&ctx), order, id, input).await?;
    tx.commit().await?;
    Ok(Json(d))
}

/// Set a new end of the download period; an expired download becomes active again.
#[utoipa::path(post, path = "/admin/v1/orders/{order_id}/deliveries/{delivery_id}/extend", tag = "digital",
    security(("staff" = [])), request_body = ExtendDelivery,
    responses((status = 200, body = Delivery), (status = 404, body = ProblemBody),
              (status = 409, body = ProblemBody, description = "delivery_revoked"),
              (status = 422, body = ProblemBody, description = "validation_failed")))]
async fn extend_delivery(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((order, id)): ApiPath<(OrderId, DeliveryId)>,
    ApiJson(input): ApiJson<ExtendDelivery>,
) -> ApiResult<Json<Delivery>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let d = delivery::extend(&mut tx, ctx.store_id, Acting::Staff(&ctx), order, id, input).await?;
    tx.commit().await?;
    Ok(Json(d))
}

/// Reset the download count and/or change the limit (`null` for unlimited).
#[utoipa::path(post, path = "/admin/v1/orders/{order_id}/deliveries/{delivery_id}/limit", tag = "digital",
    security(("staff" = [])), request_body = ChangeDownloadLimit,
    responses((status = 200, body = Delivery), (status = 404, body = ProblemBody),
              (status = 409, body = ProblemBody, description = "delivery_revoked"),
              (status = 422, body = ProblemBody, description = "validation_failed")))]
async fn change_download_limit(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((order, id)): ApiPath<(OrderId, DeliveryId)>,
    ApiJson(input): ApiJson<ChangeDownloadLimit>,
) -> ApiResult<Json<Delivery>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let d = delivery::change_limit(&mut tx, ctx.store_id, Acting::Staff(&ctx), order, id, input).await?;
    tx.commit().await?;
    Ok(Json(d))
}
