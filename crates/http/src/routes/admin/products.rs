//! Catalog administration: products, variants, product locations, digital settings, CSV.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use catalog::csv::{ImportMode, ImportReport};
use catalog::digital::{
    ProductDigitalSettings, StoreDigitalSettings, UpdateProductDigitalSettings, UpdateStoreDigitalSettings,
};
use catalog::locations::{ProductLocations, SetProductLocations};
use catalog::product::{
    self, BulkResult, BulkStatus, CreateProduct, Product, ProductQuery, ProductStatus, UpdateProduct,
};
use catalog::variant::{self, CreateVariant, UpdateVariant, Variant};
use kernel::access::Acting;
use kernel::{Page, ProductId, VariantId};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::download::{self, CsvQuery};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, update_product, delete_product))
        .routes(routes!(archive_product))
        .routes(routes!(unarchive_product))
        .routes(routes!(bulk_status))
        .routes(routes!(list_variants, create_variant))
        .routes(routes!(get_variant, update_variant, delete_variant))
        .routes(routes!(get_product_locations, set_product_locations))
        .routes(routes!(get_product_digital, update_product_digital))
        .routes(routes!(get_store_digital, update_store_digital))
        .routes(routes!(export_products))
        .merge(
            // catalogs are larger than API bodies
            OpenApiRouter::new()
                .routes(routes!(import_products))
                .layer(axum::extract::DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
}

/// Largest CSV the import endpoint takes (the CLI reads files of any size).
pub const IMPORT_LIMIT: usize = 64 * 1024 * 1024;

/// List products, filtered and sorted.
#[utoipa::path(get, path = "/admin/v1/products", tag = "catalog", security(("staff" = [])), params(ProductQuery),
    responses((status = 200, body = Page<Product>), (status = 400, body = ProblemBody),
              (status = 422, body = ProblemBody, description = "validation_failed (sort)")))]
async fn list_products(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<ProductQuery>,
) -> ApiResult<Json<Page<Product>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let page = product::list_products(&mut tx, ctx.store_id, Acting::Staff(&ctx), &q).await?;
    tx.commit().await?;
    Ok(Json(page))
}

/// Create a product, with its options, variants (and their initial stock) and locations.
#[utoipa::path(post, path = "/admin/v1/products", tag = "catalog", security(("staff" = [])), request_body = CreateProduct,
    responses((status = 201, body = Product), (status = 409, body = ProblemBody, description = "handle_taken, sku_taken"),
              (status = 422, body = ProblemBody, description = "validation_failed, currency_mismatch, product_not_publishable")))]
async fn create_product(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<CreateProduct>,
) -> ApiResult<(StatusCode, Json<Product>)> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let p = product::create_product(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// One product with its options, variants and locations.
#[utoipa::path(get, path = "/admin/v1/products/{product_id}", tag = "catalog", security(("staff" = [])),
    responses((status = 200, body = Product), (status = 404, body = ProblemBody)))]
async fn get_product(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
) -> ApiResult<Json<Product>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let p = product::get_product(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// Change a product. A status change must be a legal move (archived products go back to draft
/// before they can be active again).
#[utoipa::path(patch, path = "/admin/v1/products/{product_id}", tag = "catalog", security(("staff" = [])), request_body = UpdateProduct,
    responses((status = 200, body = Product), (status = 404, body = ProblemBody),
              (status = 409, body = ProblemBody, description = "illegal_status_transition, handle_taken")))]
async fn update_product(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(input): ApiJson<UpdateProduct>,
) -> ApiResult<Json<Product>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let p = product::update_product(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// Delete a product (soft: orders keep referring to it; its handle and SKUs become free).
#[utoipa::path(delete, path = "/admin/v1/products/{product_id}", tag = "catalog", security(("staff" = [])),
    responses((status = 204), (status = 404, body = ProblemBody)))]
async fn delete_product(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
) -> ApiResult<StatusCode> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    product::delete_product(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Archive a product: it leaves the storefront and keeps its history.
#[utoipa::path(post, path = "/admin/v1/products/{product_id}/archive", tag = "catalog", security(("staff" = [])),
    responses((status = 200, body = Product), (status = 404, body = ProblemBody)))]
async fn archive_product(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
) -> ApiResult<Json<Product>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let p = product::set_status(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, ProductStatus::Archived).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// Unarchive: the product returns to draft.
#[utoipa::path(post, path = "/admin/v1/products/{product_id}/unarchive", tag = "catalog", security(("staff" = [])),
    responses((status = 200, body = Product), (status = 404, body = ProblemBody)))]
async fn unarchive_product(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
) -> ApiResult<Json<Product>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let p = product::set_status(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, ProductStatus::Draft).await?;
    tx.commit().await?;
    Ok(Json(p))
}

/// Move up to 250 products to one status; products that cannot move are listed with why.
#[utoipa::path(post, path = "/admin/v1/products/bulk-status", tag = "catalog", security(("staff" = [])), request_body = BulkStatus,
    responses((status = 200, body = BulkResult)))]
async fn bulk_status(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<BulkStatus>,
) -> ApiResult<Json<BulkResult>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let r = product::bulk_set_status(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok(Json(r))
}

/// List the product's variants.
#[utoipa::path(get, path = "/admin/v1/products/{product_id}/variants", tag = "catalog", security(("staff" = [])),
    responses((status = 200, body = Vec<Variant>), (status = 404, body = ProblemBody)))]
async fn list_variants(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
) -> ApiResult<Json<Vec<Variant>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let p = product::get_product(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(p.variants))
}

/// Add a variant to a product.
#[utoipa::path(post, path = "/admin/v1/products/{product_id}/variants", tag = "catalog", security(("staff" = [])), request_body = CreateVariant,
    responses((status = 201, body = Variant), (status = 409, body = ProblemBody, description = "sku_taken, variant_options_taken"),
              (status = 422, body = ProblemBody)))]
async fn create_variant(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(input): ApiJson<CreateVariant>,
) -> ApiResult<(StatusCode, Json<Variant>)> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let v = variant::create_variant(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// One variant of a product.
#[utoipa::path(get, path = "/admin/v1/products/{product_id}/variants/{variant_id}", tag = "catalog", security(("staff" = [])),
    responses((status = 200, body = Variant), (status = 404, body = ProblemBody)))]
async fn get_variant(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((product_id, variant_id)): ApiPath<(ProductId, VariantId)>,
) -> ApiResult<Json<Variant>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let v = variant::get_variant(&mut tx, ctx.store_id, Acting::Staff(&ctx), product_id, variant_id).await?;
    tx.commit().await?;
    Ok(Json(v))
}

/// Change a variant (SKU, price, options, flash-sale settings).
#[utoipa::path(patch, path = "/admin/v1/products/{product_id}/variants/{variant_id}", tag = "catalog", security(("staff" = [])),
    request_body = UpdateVariant, responses((status = 200, body = Variant), (status = 404, body = ProblemBody), (status = 409, body = ProblemBody)))]
async fn update_variant(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((product_id, variant_id)): ApiPath<(ProductId, VariantId)>,
    ApiJson(input): ApiJson<UpdateVariant>,
) -> ApiResult<Json<Variant>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let v = variant::update_variant(&mut tx, ctx.store_id, Acting::Staff(&ctx), product_id, variant_id, input).await?;
    tx.commit().await?;
    Ok(Json(v))
}

/// Delete a variant (soft: orders keep referring to it).
#[utoipa::path(delete, path = "/admin/v1/products/{product_id}/variants/{variant_id}", tag = "catalog", security(("staff" = [])),
    responses((status = 204), (status = 404, body = ProblemBody)))]
async fn delete_variant(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((product_id, variant_id)): ApiPath<(ProductId, VariantId)>,
) -> ApiResult<StatusCode> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    variant::delete_variant(&mut tx, ctx.store_id, Acting::Staff(&ctx), product_id, variant_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The locations that carry the product.
#[utoipa::path(get, path = "/admin/v1/products/{product_id}/locations", tag = "catalog", security(("staff" = [])),
    responses((status = 200, body = ProductLocations), (status = 404, body = ProblemBody)))]
async fn get_product_locations(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
) -> ApiResult<Json<ProductLocations>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let p = product::get_product(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(ProductLocations { product_id: p.id, location_ids: p.location_ids }))
}

/// Set which locations carry the product (empty: all of the store's).
#[utoipa::path(put, path = "/admin/v1/products/{product_id}/locations", tag = "catalog", security(("staff" = [])),
    request_body = SetProductLocations, responses((status = 200, body = ProductLocations), (status = 404, body = ProblemBody)))]
async fn set_product_locations(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(input): ApiJson<SetProductLocations>,
) -> ApiResult<Json<ProductLocations>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let r = catalog::locations::set_product_locations(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok(Json(r))
}

/// A product's download settings and the values that apply (product over store).
#[utoipa::path(get, path = "/admin/v1/products/{product_id}/digital-settings", tag = "catalog", security(("staff" = [])),
    responses((status = 200, body = ProductDigitalSettings), (status = 404, body = ProblemBody)))]
async fn get_product_digital(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
) -> ApiResult<Json<ProductDigitalSettings>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let r = catalog::digital::get_product_settings(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(r))
}

/// Change the product's digital-delivery settings.
#[utoipa::path(put, path = "/admin/v1/products/{product_id}/digital-settings", tag = "catalog", security(("staff" = [])),
    request_body = UpdateProductDigitalSettings, responses((status = 200, body = ProductDigitalSettings), (status = 404, body = ProblemBody)))]
async fn update_product_digital(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(input): ApiJson<UpdateProductDigitalSettings>,
) -> ApiResult<Json<ProductDigitalSettings>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let r = catalog::digital::update_product_settings(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok(Json(r))
}

/// The store's default digital-delivery settings.
#[utoipa::path(get, path = "/admin/v1/store/digital-settings", tag = "catalog", security(("staff" = [])),
    responses((status = 200, body = StoreDigitalSettings)))]
async fn get_store_digital(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<StoreDigitalSettings>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let r = catalog::digital::get_store_settings(&mut tx, ctx.store_id, Acting::Staff(&ctx)).await?;
    tx.commit().await?;
    Ok(Json(r))
}

/// Change the store's default digital-delivery settings.
#[utoipa::path(put, path = "/admin/v1/store/digital-settings", tag = "catalog", security(("staff" = [])),
    request_body = UpdateStoreDigitalSettings, responses((status = 200, body = StoreDigitalSettings)))]
async fn update_store_digital(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<UpdateStoreDigitalSettings>,
) -> ApiResult<Json<StoreDigitalSettings>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let r = catalog::digital::update_store_settings(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok(Json(r))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportParams {
    /// `all_or_nothing` (default) or `partial`.
    #[param(inline)]
    mode: Option<ImportMode>,
    /// The tax class of variants whose `Variant Tax Class` is empty (a Shopify file has none):
    /// `standard` (default) or `reduced`. Food-like product types at the standard rate are
    /// reported in `warnings`.
    #[param(inline)]
    tax_class: Option<catalog::variant::TaxClass>,
}

/// Import products from a CSV in Shopify's product layout (UTF-8 or Shift_JIS). All or
/// nothing unless `mode=partial`; errors name the line and column. Image Src URLs are fetched
/// in the background (`images_queued`); every column not imported is named in `warnings`.
#[utoipa::path(post, path = "/admin/v1/products/import", tag = "catalog", security(("staff" = [])), params(ImportParams),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 422, body = ProblemBody, description = "import_rejected, unreadable_csv")))]
async fn import_products(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(params): ApiQuery<ImportParams>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportReport>> {
    super::require_csv(&headers)?;
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let options = catalog::csv::ImportOptions { mode: params.mode.unwrap_or_default(), tax_class: params.tax_class };
    let report =
        catalog::csv::import_with(&mut tx, ctx.store_id, Acting::Staff(&ctx), &body, options, &mut |_, _| {}).await?;
    // searchable one sync round after the commit, not after the outbox delivered every event
    search::sync::mark(&mut tx, ctx.store_id, &report.product_ids).await?;
    tx.commit().await?;
    if let Some(index) = &s.search {
        index.wake_sync();
    }
    Ok(Json(report))
}

/// The store's catalog as a CSV in Shopify's product layout, images included (`Image Src`
/// absolute: `images.public_url`, or this request's host); UTF-8 without a BOM unless
/// `encoding` says otherwise.
#[utoipa::path(get, path = "/admin/v1/products/export", tag = "catalog", security(("staff" = [])), params(CsvQuery),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 422, body = ProblemBody, description = "csv_unencodable")))]
async fn export_products(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(file): ApiQuery<CsvQuery>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let base = catalog::csv::media_base(s.settings.image_public_url.as_deref(), host);
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let csv = catalog::csv::export(&mut tx, ctx.store_id, Acting::Staff(&ctx), &base).await?;
    tx.commit().await?;
    download::csv(&csv, &file, kernel::csv_file::CsvEncoding::Utf8, "products.csv")
}
