//! Staff sign-in and bearer tokens.
//!
//! A token is 32 random bytes (base64url, prefixed `tps_`); only its SHA-256 is stored, in
//! staff_sessions, with an expiry. Each request resolves its token once through
//! `tenpo_resolve_session` into a [`StaffContext`]. Failed sign-ins are throttled per account
//! and per client address ([`crate::throttle`]); past the limit, sign-in answers 429 until the
//! lockout passes, even with the right password.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use db::{Db, Tx};
use kernel::access::{Role, StaffContext};
use kernel::{SessionId, StaffId, StoreId, StoreRef, TenantId, Validator, VendorId};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::staff::{self, Login, StaffMember};
use crate::stores::{self, Store};
use crate::throttle::Attempt;
use crate::{AuthError, password};

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub session_ttl: Duration,
    /// Failed sign-ins allowed per account within `window` before it is locked.
    pub max_failures_per_account: i32,
    /// Failed sign-ins allowed per client address within `window` before it is locked.
    pub max_failures_per_address: i32,
    pub window: Duration,
    pub lockout: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            session_ttl: Duration::from_secs(12 * 3600),
            max_failures_per_account: 5,
            max_failures_per_address: 20,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The store's handle or id.
    #[schema(example = "demo")]
    pub store: String,
    /// Email, login id or phone number.
    #[schema(example = "owner@demo.tenpo.test")]
    pub login: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`. Shown once; only its hash is stored.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub staff: StaffMember,
    pub store: Store,
    /// What this member's role may do.
    pub permissions: Vec<kernel::access::Permission>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Session {
    pub id: SessionId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    #[schema(value_type = Option<String>)]
    pub ip: Option<sqlx::types::ipnetwork::IpNetwork>,
    /// True for the session of the token making this request.
    #[sqlx(default)]
    pub current: bool,
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("tps_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Signs a staff member in and opens a session.
pub async fn login(
    db: &Db,
    settings: &AuthSettings,
    input: LoginRequest,
    client: Option<IpAddr>,
    user_agent: Option<&str>,
) -> Result<LoginResponse, AuthError> {
    let mut v = Validator::new();
    v.text("store", &input.store, 200);
    v.text("login", &input.login, 320);
    if input.password.is_empty() {
        v.push("password", "required", "must not be empty");
    } else if input.password.chars().count() > password::MAX_LEN {
        v.push("password", "too_long", format!("must be at most {} characters", password::MAX_LEN));
    }
    v.into_result()?;

    let mut attempt = Attempt::from(db, settings, client).await?;
    let store_ref: StoreRef = input.store.trim().parse().unwrap_or(StoreRef::Handle(String::new()));
    let resolved = stores::resolve(db, &store_ref).await?;
    let login = Login::parse(&input.login);
    let found = match (resolved, &login) {
        (Some((tenant, store, _)), Some(login)) => find_for_login(db, tenant, store, login).await?,
        _ => None,
    };
    if let Some((_, _, staff_id, _)) = &found {
        attempt.for_account("staff", staff_id).await?;
    }
    let stored_hash = found.as_ref().and_then(|f| f.3.clone());
    let ok = password::verify(input.password, stored_hash).await?;
    let Some((tenant, store_id, staff_id, _)) = found.filter(|_| ok) else {
        attempt.failed().await?;
        tracing::info!(store = %input.store, "failed staff sign-in");
        return Err(AuthError::InvalidCredentials);
    };
    attempt.succeeded().await?;

    let token = new_token();
    let mut tx = db.begin(tenant).await?;
    let expires_at: DateTime<Utc> = sqlx::query_scalar(
        "INSERT INTO staff_sessions (id, tenant_id, store_id, staff_id, token_hash, expires_at, last_used_at, user_agent, ip)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6), now(), left($7, 500), $8)
         RETURNING expires_at",
    )
    .bind(SessionId::new())
    .bind(tenant)
    .bind(store_id)
    .bind(staff_id)
    .bind(hash_token(&token))
    .bind(settings.session_ttl.as_secs_f64())
    .bind(user_agent)
    .bind(client.map(sqlx::types::ipnetwork::IpNetwork::from))
    .fetch_one(&mut *tx)
    .await?;
    let member: StaffMember = sqlx::query_as(&format!("SELECT {} FROM store_staff WHERE id = $1", staff::COLUMNS))
        .bind(staff_id)
        .fetch_one(&mut *tx)
        .await?;
    let store = stores::get_store(&mut tx, store_id).await.map_err(|_| AuthError::InvalidCredentials)?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant, store_id = %store_id, staff_id = %staff_id, "staff signed in");
    let permissions = member.role.permissions();
    Ok(LoginResponse { token, expires_at, staff: member, store, permissions })
}

type LoginRow = (TenantId, StoreId, StaffId, Option<String>);

async fn find_for_login(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    login: &Login,
) -> Result<Option<LoginRow>, sqlx::Error> {
    let (column, value) = match login {
        Login::Email(e) => ("email", e),
        Login::LoginId(l) => ("login_id", l),
        Login::Phone(p) => ("phone", p),
    };
    let mut tx = db.begin(tenant).await?;
    let row: Option<(StaffId, Option<String>)> = sqlx::query_as(&format!(
        "SELECT id, password_hash FROM store_staff
          WHERE store_id = $1 AND {column} = $2 AND status = 'active' AND deleted_at IS NULL
            AND EXISTS (SELECT 1 FROM tenants WHERE status = 'active')"
    ))
    .bind(store)
    .bind(value)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|(id, hash)| (tenant, store, id, hash)))
}

/// Resolves a bearer token into the staff context it acts for.
pub async fn authenticate(db: &Db, token: &str) -> Result<StaffContext, AuthError> {
    if !token.starts_with("tps_") || token.len() > 100 {
        return Err(AuthError::InvalidToken);
    }
    let row: Option<(SessionId, TenantId, StoreId, StaffId, Role, Option<VendorId>)> = sqlx::query_as(
        "SELECT session_id, tenant_id, store_id, staff_id, role, vendor_id FROM tenpo_resolve_session($1)",
    )
    .bind(hash_token(token))
    .fetch_optional(db.platform())
    .await?;
    let (session_id, tenant_id, store_id, staff_id, role, vendor_id) = row.ok_or(AuthError::InvalidToken)?;
    Ok(StaffContext { tenant_id, store_id, staff_id, session_id, role, vendor_id })
}

/// Ends the session of the current token.
pub async fn logout(db: &Db, ctx: &StaffContext) -> Result<(), AuthError> {
    let mut tx = db.begin(ctx.tenant_id).await?;
    sqlx::query("UPDATE staff_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(ctx.session_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends every session of a staff member (sign out everywhere, password change, disabling).
pub async fn revoke_all_sessions(tx: &mut Tx, staff: StaffId) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("UPDATE staff_sessions SET revoked_at = now() WHERE staff_id = $1 AND revoked_at IS NULL")
        .bind(staff)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

/// The live sessions of a staff member.
pub async fn list_sessions(tx: &mut Tx, staff: StaffId, current: SessionId) -> Result<Vec<Session>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, created_at, expires_at, last_used_at, user_agent, ip, id = $2 AS current FROM staff_sessions
          WHERE staff_id = $1 AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC",
    )
    .bind(staff)
    .bind(current)
    .fetch_all(&mut **tx)
    .await
}
