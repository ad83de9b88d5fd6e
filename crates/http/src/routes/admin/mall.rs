//! Mall mode: the mall's settings (closing day, commission on fees, payouts, contact masking),
//! products' commission overrides.

use axum::Json;
use axum::extract::State;
use kernel::ProductId;
use kernel::access::Acting;
use tenancy::commission::{self, ProductCommission, SetProductCommission};
use tenancy::mall::{self, MallSettings, UpdateMallSettings};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Staff};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_mall_settings, update_mall_settings))
        .routes(routes!(get_product_commission, set_product_commission))
}

/// The mall's settings: when statements close (締め日), whether shipping and COD fees carry
/// commission, the transfer fee and minimum payout, and how long vendors see shoppers' contact
/// details after delivery.
#[utoipa::path(get, path = "/admin/v1/mall/settings", tag = "mall", security(("staff" = [])),
    responses((status = 200, body = MallSettings), (status = 403, body = ProblemBody)))]
async fn get_mall_settings(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<MallSettings>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let settings = mall::get_settings(&mut tx, Acting::Staff(&ctx)).await?;
    tx.commit().await?;
    Ok(Json(settings))
}

/// Change the mall's settings (mall tenants only).
#[utoipa::path(patch, path = "/admin/v1/mall/settings", tag = "mall", security(("staff" = [])),
    request_body = UpdateMallSettings,
    responses((status = 200, body = MallSettings), (status = 403, body = ProblemBody),
              (status = 422, body = ProblemBody, description = "not_a_mall, validation_failed")))]
async fn update_mall_settings(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<UpdateMallSettings>,
) -> ApiResult<Json<MallSettings>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let settings = mall::update_settings(&mut tx, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok(Json(settings))
}

/// A product's commission: the rate its lines take today (its override, else its vendor's
/// default) and its overrides.
#[utoipa::path(get, path = "/admin/v1/products/{product_id}/commission", tag = "mall", security(("staff" = [])),
    responses((status = 200, body = ProductCommission), (status = 404, body = ProblemBody, description = "product_not_found")))]
async fn get_product_commission(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
) -> ApiResult<Json<ProductCommission>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let c = commission::product_commission(&mut tx, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(c))
}

/// Override the vendor's default commission rate for one product from a day on (mall tenants;
/// orders already placed keep theirs).
#[utoipa::path(put, path = "/admin/v1/products/{product_id}/commission", tag = "mall", security(("staff" = [])),
    request_body = SetProductCommission,
    responses((status = 200, body = ProductCommission), (status = 404, body = ProblemBody, description = "product_not_found"),
              (status = 422, body = ProblemBody, description = "not_a_mall, validation_failed")))]
async fn set_product_commission(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<ProductId>,
    ApiJson(input): ApiJson<SetProductCommission>,
) -> ApiResult<Json<ProductCommission>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let c = commission::set_product_commission(&mut tx, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok(Json(c))
}
