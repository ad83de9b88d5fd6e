//! Sign-in, sign-out and sessions.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use kernel::access::Permission;
use serde::Serialize;
use tenancy::auth::{self, LoginRequest, LoginResponse, Session};
use tenancy::staff::StaffMember;
use tenancy::stores::Store;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{ApiJson, ClientIp, Staff};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(logout_everywhere))
        .routes(routes!(me))
        .routes(routes!(sessions))
}

/// Sign in with the store's handle, an email, login id or phone, and the password. Answers a
/// bearer token. Repeated failures lock the account and the client address for a while (429).
#[utoipa::path(post, path = "/admin/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse),
              (status = 401, body = ProblemBody, description = "invalid_credentials"),
              (status = 429, body = ProblemBody, description = "too_many_attempts; see Retry-After")))]
async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(input): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    Ok(Json(auth::login(&s.db, &s.settings.auth, input, ip, ua).await?))
}

/// End this token's session.
#[utoipa::path(post, path = "/admin/v1/auth/logout", tag = "auth", security(("staff" = [])), responses((status = 204)))]
async fn logout(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<StatusCode> {
    auth::logout(&s.db, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
struct Revoked {
    revoked: u64,
}

/// End every session of the signed-in staff member, this one included.
#[utoipa::path(post, path = "/admin/v1/auth/logout-all", tag = "auth", security(("staff" = [])), responses((status = 200, body = Revoked)))]
async fn logout_everywhere(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<Revoked>> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let revoked = auth::revoke_all_sessions(&mut tx, ctx.staff_id).await?;
    tx.commit().await?;
    Ok(Json(Revoked { revoked }))
}

#[derive(Serialize, ToSchema)]
struct Me {
    staff: StaffMember,
    store: Store,
    permissions: Vec<Permission>,
}

/// Who the token belongs to, in which store, with which permissions.
#[utoipa::path(get, path = "/admin/v1/auth/me", tag = "auth", security(("staff" = [])), responses((status = 200, body = Me)))]
async fn me(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<Me>> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let staff =
        tenancy::staff::get_staff(&mut tx, ctx.store_id, kernel::access::Acting::Staff(&ctx), ctx.staff_id).await?;
    let store = tenancy::stores::get_store(&mut tx, ctx.store_id).await?;
    tx.commit().await?;
    Ok(Json(Me { staff, store, permissions: ctx.role.permissions() }))
}

/// The signed-in staff member's live sessions.
#[utoipa::path(get, path = "/admin/v1/auth/sessions", tag = "auth", security(("staff" = [])), responses((status = 200, body = Vec<Session>)))]
async fn sessions(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<Vec<Session>>> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let list = auth::list_sessions(&mut tx, ctx.staff_id, ctx.session_id).await?;
    tx.commit().await?;
    Ok(Json(list))
}
