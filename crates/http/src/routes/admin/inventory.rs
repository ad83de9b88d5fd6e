//! Stock administration: levels, adjustments with a reason, and the movement history.

use axum::Json;
use axum::extract::State;
use inventory::movements::{self, LevelQuery, LevelView, Movement, MovementQuery};
use inventory::stock::{self, AdjustStock, SetStock, StockLevel};
use kernel::Page;
use kernel::access::Acting;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{ApiJson, ApiQuery, Staff};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_levels, set_level)).routes(routes!(adjust)).routes(routes!(list_movements))
}

/// Stock levels per variant and location.
#[utoipa::path(get, path = "/admin/v1/inventory/levels", tag = "inventory", security(("staff" = [])), params(LevelQuery),
    responses((status = 200, body = Page<LevelView>)))]
async fn list_levels(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<LevelQuery>,
) -> ApiResult<Json<Page<LevelView>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let page = movements::list_levels(&mut tx, ctx.store_id, Acting::Staff(&ctx), &q).await?;
    tx.commit().await?;
    Ok(Json(page))
}

/// Set the on-hand number of a variant at a location (a count). It cannot go below what
/// carts hold (409 `stock_below_reserved`).
#[utoipa::path(put, path = "/admin/v1/inventory/levels", tag = "inventory", security(("staff" = [])), request_body = SetStock,
    responses((status = 200, body = StockLevel), (status = 409, body = ProblemBody), (status = 404, body = ProblemBody)))]
async fn set_level(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<SetStock>,
) -> ApiResult<Json<StockLevel>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let level = stock::set(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok(Json(level))
}

/// Add or remove units with a reason: receipt, correction, damage, return or count.
#[utoipa::path(post, path = "/admin/v1/inventory/adjustments", tag = "inventory", security(("staff" = [])), request_body = AdjustStock,
    responses((status = 200, body = StockLevel), (status = 404, body = ProblemBody, description = "variant_not_found, location_not_found"),
              (status = 409, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn adjust(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<AdjustStock>,
) -> ApiResult<Json<StockLevel>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let level = stock::adjust(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok(Json(level))
}

/// The history of every change to stock or reserved numbers, newest first: who, why, by how
/// much, and the numbers after.
#[utoipa::path(get, path = "/admin/v1/inventory/movements", tag = "inventory", security(("staff" = [])), params(MovementQuery),
    responses((status = 200, body = Page<Movement>)))]
async fn list_movements(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(q): ApiQuery<MovementQuery>,
) -> ApiResult<Json<Page<Movement>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let page = movements::list_movements(&mut tx, ctx.store_id, Acting::Staff(&ctx), &q).await?;
    tx.commit().await?;
    Ok(Json(page))
}
