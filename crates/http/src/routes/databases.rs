//! `/platform/v1/databases`: the operator's store databases (docs/ROUTING.md). The password of a
//! connection is never part of a request or an answer: only where it is read from.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use db::connections::{self, CheckReport, CreateConnection, DbConnection, UpdateConnection};
use db::routing::{self, SetRoute, StoreRoute};
use kernel::{StoreId, TenantId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Operator};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_connection, list_connections))
        .routes(routes!(get_connection, update_connection))
        .routes(routes!(check_connection))
        .routes(routes!(get_route, set_route))
}

/// Which database the store's data lives in (`main`: the main database).
#[utoipa::path(get, path = "/platform/v1/tenants/{tenant_id}/stores/{store_id}/database", tag = "platform", security(("operator" = [])),
    responses((status = 200, body = StoreRoute), (status = 404, body = ProblemBody, description = "store_not_found")))]
async fn get_route(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, store_id)): ApiPath<(TenantId, StoreId)>,
) -> ApiResult<Json<StoreRoute>> {
    let mut tx = s.db.begin(tenant_id).await?;
    tenancy::stores::get_store(&mut tx, store_id).await?;
    tx.commit().await?;
    Ok(Json(routing::route_of(s.db.platform(), store_id).await?))
}

/// Route a store without data yet to a database (a connection's key, or `main`). Every API
/// process sees the change within a second. A store with products, carts or orders is moved
/// instead. The target must be ready (active, answering, at this binary's migrations): else
/// 409 `database_not_ready`. The store's control rows and setup rows are copied there first, and
/// from then on it is served from there (docs/ROUTING.md).
#[utoipa::path(put, path = "/platform/v1/tenants/{tenant_id}/stores/{store_id}/database", tag = "platform", security(("operator" = [])),
    request_body = SetRoute,
    responses((status = 200, body = StoreRoute),
              (status = 404, body = ProblemBody, description = "store_not_found, db_connection_not_found"),
              (status = 409, body = ProblemBody, description = "store_has_data, database_not_ready (inactive, unreachable or lagging)"),
              (status = 503, body = ProblemBody, description = "store_database_unavailable: the database the store lives in now does not answer")))]
async fn set_route(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, store_id)): ApiPath<(TenantId, StoreId)>,
    ApiJson(input): ApiJson<SetRoute>,
) -> ApiResult<Json<StoreRoute>> {
    Ok(Json(routing::set_route(&s.db, tenant_id, store_id, input).await?))
}

/// Add a database stores can be routed to: where it is, its owner role, and where that role's
/// password is read from (`env:NAME` or `file:/path`, resolved only when connecting). Nothing is
/// connected to here: `check` it, then `tenpo migrate`.
#[utoipa::path(post, path = "/platform/v1/databases", tag = "platform", security(("operator" = [])),
    request_body = CreateConnection,
    responses((status = 201, body = DbConnection),
              (status = 409, body = ProblemBody, description = "db_key_taken"),
              (status = 422, body = ProblemBody, description = "validation_failed")))]
async fn create_connection(
    _: Operator,
    State(s): State<AppState>,
    ApiJson(input): ApiJson<CreateConnection>,
) -> ApiResult<(StatusCode, Json<DbConnection>)> {
    Ok((StatusCode::CREATED, Json(connections::create(s.db.platform(), input).await?)))
}

/// Every database connection, by key.
#[utoipa::path(get, path = "/platform/v1/databases", tag = "platform", security(("operator" = [])),
    responses((status = 200, body = Vec<DbConnection>)))]
async fn list_connections(_: Operator, State(s): State<AppState>) -> ApiResult<Json<Vec<DbConnection>>> {
    Ok(Json(connections::list(s.db.platform()).await?))
}

/// One database connection.
#[utoipa::path(get, path = "/platform/v1/databases/{db_key}", tag = "platform", security(("operator" = [])),
    responses((status = 200, body = DbConnection), (status = 404, body = ProblemBody, description = "db_connection_not_found")))]
async fn get_connection(
    _: Operator,
    State(s): State<AppState>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<DbConnection>> {
    Ok(Json(connections::get(s.db.platform(), &key).await?))
}

/// Change a connection's address, owner role or password reference, or take it out of use
/// (`inactive`: not connected to, migrated or checked).
#[utoipa::path(patch, path = "/platform/v1/databases/{db_key}", tag = "platform", security(("operator" = [])),
    request_body = UpdateConnection,
    responses((status = 200, body = DbConnection), (status = 404, body = ProblemBody, description = "db_connection_not_found"),
              (status = 422, body = ProblemBody, description = "validation_failed")))]
async fn update_connection(
    _: Operator,
    State(s): State<AppState>,
    ApiPath(key): ApiPath<String>,
    ApiJson(input): ApiJson<UpdateConnection>,
) -> ApiResult<Json<DbConnection>> {
    let row = connections::update(s.db.platform(), &key, input).await?;
    s.db.connections().forget(&key);
    Ok(Json(row))
}

/// Connect now: as the owner role (password read from its reference), with the isolation
/// self-check there, and as the runtime role (reachable, migrations up to date).
#[utoipa::path(post, path = "/platform/v1/databases/{db_key}/check", tag = "platform", security(("operator" = [])),
    responses((status = 200, body = CheckReport), (status = 404, body = ProblemBody, description = "db_connection_not_found"),
              (status = 422, body = ProblemBody, description = "db_secret_unavailable")))]
async fn check_connection(
    _: Operator,
    State(s): State<AppState>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Json<CheckReport>> {
    let row = connections::get(s.db.platform(), &key).await?;
    Ok(Json(connections::check(&row, s.db.connections()).await?))
}
