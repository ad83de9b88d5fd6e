//! Product images for staff: upload (the body is the image file), list, alt text and order,
//! delete. A variant's image is its `image_id` (`PATCH .../variants/{variant_id}`).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use catalog::image::{self, ProductImage, UpdateImage};
use images::ImageError;
use images::upload::Upload;
use kernel::access::Acting;
use kernel::{ImageId, ProductId};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_images)).routes(routes!(update_image, delete_image))
}

/// The upload route, apart: the body limit is `images.max_bytes` (checked while reading) and
/// it gets the upload timeout (see `crate::router`).
pub fn uploads() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_image)).layer(axum::extract::DefaultBodyLimit::disable())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadParams {
    /// Alternative text, up to 512 characters, e.g. `抹茶ラテのパッケージ`.
    alt: Option<String>,
    /// 1-based position among the product's images (default: last).
    #[param(minimum = 1, maximum = 250)]
    position: Option<i32>,
}

/// Upload an image of a product: the request body is the file itself (JPEG, PNG or WebP, up to
/// `images.max_bytes`, 20 MiB by default). Its type is decided from its content, never from a
/// file name or `Content-Type`: an SVG, a program or any other file is refused with 422
/// `image_type_refused`. The original is stored; 200, 600 and 1200 px wide renditions (only
/// those narrower than the original) follow in the background (docs/CATALOG.md).
#[utoipa::path(post, path = "/admin/v1/products/{product_id}/images", tag = "catalog",
    security(("staff" = [])), params(UploadParams),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the image file"),
    responses((status = 201, body = ProductImage), (status = 404, body = ProblemBody),
              (status = 400, body = ProblemBody, description = "upload_interrupted"),
              (status = 413, body = ProblemBody, description = "image_too_large"),
              (status = 422, body = ProblemBody, description = "image_type_refused, image_unreadable, image_dimensions_too_large, too_many_images, validation_failed"),
              (status = 503, body = ProblemBody, description = "storage_unavailable")))]
async fn upload_image(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(product_id): ApiPath<ProductId>,
    ApiQuery(q): ApiQuery<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<ProductImage>)> {
    let storage = s.storage.as_ref().ok_or(ImageError::StorageUnavailable)?;
    let upload = Upload {
        alt: q.alt.unwrap_or_default(),
        position: q.position,
        content_length: headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()),
    };
    let img = images::upload::upload(
        &s.db.store(ctx.store_id).await?,
        storage,
        s.settings.image_max_bytes,
        ctx.tenant_id,
        ctx.store_id,
        Acting::Staff(&ctx),
        product_id,
        upload,
        body.into_data_stream(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(img)))
}

/// The product's images in order, each with its status (`pending` until its renditions
/// exist), original URL, dimensions and renditions.
#[utoipa::path(get, path = "/admin/v1/products/{product_id}/images", tag = "catalog", security(("staff" = [])),
    responses((status = 200, body = Vec<ProductImage>), (status = 404, body = ProblemBody)))]
async fn list_images(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(product_id): ApiPath<ProductId>,
) -> ApiResult<Json<Vec<ProductImage>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let list = image::list(&mut tx, ctx.store_id, Acting::Staff(&ctx), product_id).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Change an image's alt text or move it (the others make room; position 1 is the main image).
#[utoipa::path(patch, path = "/admin/v1/products/{product_id}/images/{image_id}", tag = "catalog",
    security(("staff" = [])), request_body = UpdateImage,
    responses((status = 200, body = ProductImage), (status = 404, body = ProblemBody, description = "product_not_found, image_not_found"),
              (status = 422, body = ProblemBody, description = "validation_failed")))]
async fn update_image(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((product_id, image_id)): ApiPath<(ProductId, ImageId)>,
    ApiJson(input): ApiJson<UpdateImage>,
) -> ApiResult<Json<ProductImage>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let img = image::update(&mut tx, ctx.store_id, Acting::Staff(&ctx), product_id, image_id, input).await?;
    tx.commit().await?;
    Ok(Json(img))
}

/// Delete an image and its renditions; a variant that showed it shows none.
#[utoipa::path(delete, path = "/admin/v1/products/{product_id}/images/{image_id}", tag = "catalog",
    security(("staff" = [])),
    responses((status = 204, description = "deleted"), (status = 404, body = ProblemBody, description = "product_not_found, image_not_found")))]
async fn delete_image(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((product_id, image_id)): ApiPath<(ProductId, ImageId)>,
) -> ApiResult<StatusCode> {
    images::upload::delete(
        &s.db.store(ctx.store_id).await?,
        s.storage.as_ref(),
        ctx.tenant_id,
        ctx.store_id,
        Acting::Staff(&ctx),
        product_id,
        image_id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
