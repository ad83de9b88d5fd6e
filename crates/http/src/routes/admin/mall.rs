//! Mall mode: the mall's settings (closing day, commission on fees, payouts, contact masking).

use axum::Json;
use axum::extract::State;
use kernel::access::Acting;
use tenancy::mall::{self, MallSettings, UpdateMallSettings};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{ApiJson, Staff};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_mall_settings, update_mall_settings))
}

/// The mall's settings: when statements close (締め日), whether shipping and COD fees carry
/// commission, the transfer fee and minimum payout, and how long vendors see shoppers' contact
/// details after delivery.
#[utoipa::path(get, path = "/admin/v1/mall/settings", tag = "mall", security(("staff" = [])),
    responses((status = 200, body = MallSettings), (status = 403, body = ProblemBody)))]
async fn get_mall_settings(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<MallSettings>> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
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
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let settings = mall::update_settings(&mut tx, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok(Json(settings))
}
