//! Store staff: who works in a store, with which role, and how they sign in (email, login id
//! or phone, each unique in the store).

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Actor, Permission, Role};
use kernel::{Page, PageRequest, StaffId, StoreId, Validator, VendorId, jp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::event::{StaffChange, StaffCreated, StaffDeleted, StaffUpdated};
use crate::{TenancyError, password};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum StaffStatus {
    Active,
    /// Cannot sign in; existing sessions stop working.
    Disabled,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct StaffMember {
    pub id: StaffId,
    pub store_id: StoreId,
    pub name: String,
    pub email: Option<String>,
    pub login_id: Option<String>,
    /// E.164, e.g. +819012345678
    pub phone: Option<String>,
    pub role: Role,
    pub status: StaffStatus,
    /// Mall mode: the vendor this member works for.
    pub vendor_id: Option<VendorId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaff {
    #[serde(default)]
    pub name: String,
    pub email: Option<String>,
    /// 3-64 of a-z, 0-9, '.', '_', '-'
    pub login_id: Option<String>,
    /// Japanese forms accepted (090-1234-5678, +81 90 ...).
    pub phone: Option<String>,
    /// At least 10 characters.
    pub password: String,
    pub role: Role,
    /// Mall mode: the vendor the member works for. A vendor's staff add members of their own
    /// vendor only (leave it out); the mall's staff may name any vendor, or none.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<VendorId>)]
    pub vendor_id: Option<Option<VendorId>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaff {
    pub name: Option<String>,
    pub email: Option<String>,
    pub login_id: Option<String>,
    pub phone: Option<String>,
    pub password: Option<String>,
    pub role: Option<Role>,
    pub status: Option<StaffStatus>,
}

pub(crate) const COLUMNS: &str =
    "id, store_id, name, email, login_id, phone, role, status, vendor_id, created_at, updated_at";

/// What a staff member signs in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Email(String),
    LoginId(String),
    Phone(String),
}

impl Login {
    /// Reads what someone typed in the sign-in field: an email, a phone number or a login id.
    pub fn parse(raw: &str) -> Option<Login> {
        let s = jp::fold_width(raw).trim().to_string();
        if s.contains('@') {
            return Some(Login::Email(s.to_lowercase()));
        }
        if let Ok(phone) = jp::normalize_phone(&s) {
            return Some(Login::Phone(phone));
        }
        let id = s.to_lowercase();
        valid_login_id(&id).then_some(Login::LoginId(id))
    }
}

fn valid_login_id(s: &str) -> bool {
    (3..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

pub(crate) fn parse_email(v: &mut Validator, field: &str, raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    if e.is_empty() {
        return None;
    }
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'));
    if !ok || e.chars().any(char::is_whitespace) {
        v.push(field, "invalid", "not an email address");
    }
    Some(e)
}

fn parse_login_id(v: &mut Validator, raw: &str) -> Option<String> {
    let id = raw.trim().to_lowercase();
    if id.is_empty() {
        return None;
    }
    if !valid_login_id(&id) {
        v.push("login_id", "invalid", "use 3 to 64 of a-z, 0-9, '.', '_' and '-'");
    }
    Some(id)
}

fn parse_phone(v: &mut Validator, raw: &str) -> Option<String> {
    if raw.trim().is_empty() {
        return None;
    }
    v.check("phone", jp::normalize_phone(raw))
}

fn check_password(v: &mut Validator, field: &str, pw: &str) {
    let n = pw.chars().count();
    if n < password::MIN_LEN {
        v.push(field, "too_short", format!("must be at least {} characters", password::MIN_LEN));
    } else if n > password::MAX_LEN {
        v.push(field, "too_long", format!("must be at most {} characters", password::MAX_LEN));
    }
}

fn map_unique(e: sqlx::Error) -> TenancyError {
    match db::constraint_of(&e) {
        Some("store_staff_email_key") => TenancyError::StaffLoginTaken("email"),
        Some("store_staff_login_id_key") => TenancyError::StaffLoginTaken("login_id"),
        Some("store_staff_phone_key") => TenancyError::StaffLoginTaken("phone"),
        _ => e.into(),
    }
}

/// Adds a staff member. Staff need `staff_manage` and may add only roles they can manage; a
/// vendor's staff add members of their own vendor only. The operator may add any role,
/// including a store's first owner.
pub async fn create_staff(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    input: CreateStaff,
) -> Result<StaffMember, TenancyError> {
    by.require(Permission::StaffManage)?;
    if !by.can_manage(input.role) {
        return Err(TenancyError::CannotManageRole(input.role));
    }
    let mut v = Validator::new();
    let name = v.opt_text("name", Some(&input.name), 200).unwrap_or_default();
    let email = input.email.as_deref().and_then(|e| parse_email(&mut v, "email", e));
    let login_id = input.login_id.as_deref().and_then(|l| parse_login_id(&mut v, l));
    let phone = input.phone.as_deref().and_then(|p| parse_phone(&mut v, p));
    if email.is_none() && login_id.is_none() && phone.is_none() {
        v.push("email", "required", "give an email, a login_id or a phone to sign in with");
    }
    check_password(&mut v, "password", &input.password);
    v.into_result()?;
    crate::stores::get_store(tx, store).await?;
    let vendor = crate::vendors::assign(tx, by, input.vendor_id).await?;
    let hash = password::hash(input.password).await.map_err(|_| TenancyError::Hashing)?;
    let member: StaffMember = sqlx::query_as(&format!(
        "INSERT INTO store_staff (id, tenant_id, store_id, name, email, login_id, phone, password_hash, role, vendor_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    ))
    .bind(StaffId::new())
    .bind(tx.tenant())
    .bind(store)
    .bind(&name)
    .bind(&email)
    .bind(&login_id)
    .bind(&phone)
    .bind(&hash)
    .bind(input.role)
    .bind(vendor)
    .fetch_one(&mut **tx)
    .await
    .map_err(map_unique)?;
    record(tx, StaffCreated, &member, by.actor()).await?;
    Ok(member)
}

/// A staff member of the store; a vendor's staff see only their own vendor's.
pub async fn get_staff(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: StaffId) -> Result<StaffMember, TenancyError> {
    if by.staff_id() != Some(id) {
        by.require(Permission::StaffRead)?;
    }
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM store_staff WHERE id = $1 AND store_id = $2 AND deleted_at IS NULL
            AND ($3::uuid IS NULL OR vendor_id = $3)"
    ))
    .bind(id)
    .bind(store)
    .bind(by.vendor())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(TenancyError::StaffNotFound)
}

pub async fn list_staff(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    page: &PageRequest,
) -> Result<Page<StaffMember>, TenancyError> {
    by.require(Permission::StaffRead)?;
    let limit = page.limit()?;
    let after: Option<StaffId> = page.after()?;
    let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM store_staff WHERE store_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR id > $2)
            AND ($4::uuid IS NULL OR vendor_id = $4)
          ORDER BY id LIMIT $3"
    ))
    .bind(store)
    .bind(after)
    .bind(limit as i64 + 1)
    .bind(by.vendor())
    .fetch_all(&mut **tx)
    .await?;
    Ok(Page::from_rows(rows, limit, |s: &StaffMember| s.id))
}

/// Changes a staff member. Anyone may change their own name, sign-in names and password;
/// everything else (other members, anyone's role or status) needs `staff_manage` and the right
/// to manage both the member's current and new role. Disabling or demoting the last active
/// owner is refused.
pub async fn update_staff(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    id: StaffId,
    input: UpdateStaff,
) -> Result<StaffMember, TenancyError> {
    let is_self = by.staff_id() == Some(id);
    if !is_self || input.role.is_some() || input.status.is_some() {
        by.require(Permission::StaffManage)?;
    }
    let current = lock(tx, store, by, id).await?;
    if !is_self || input.role.is_some() || input.status.is_some() {
        for role in [Some(current.role), input.role].into_iter().flatten() {
            if !by.can_manage(role) {
                return Err(TenancyError::CannotManageRole(role));
            }
        }
    }
    let mut v = Validator::new();
    let name = input.name.as_deref().map(|n| v.opt_text("name", Some(n), 200).unwrap_or_default());
    let email = input.email.as_deref().map(|e| parse_email(&mut v, "email", e));
    let login_id = input.login_id.as_deref().map(|l| parse_login_id(&mut v, l));
    let phone = input.phone.as_deref().map(|p| parse_phone(&mut v, p));
    if let Some(pw) = &input.password {
        check_password(&mut v, "password", pw);
    }
    v.into_result()?;

    let loses_owner = current.role == Role::Owner
        && current.status == StaffStatus::Active
        && (input.role.is_some_and(|r| r != Role::Owner) || input.status == Some(StaffStatus::Disabled));
    if loses_owner && active_owners(tx, store, current.vendor_id).await? <= 1 {
        return Err(TenancyError::LastOwner);
    }
    let hash = match input.password {
        Some(pw) => Some(password::hash(pw).await.map_err(|_| TenancyError::Hashing)?),
        None => None,
    };
    let member: StaffMember = sqlx::query_as(&format!(
        "UPDATE store_staff SET
           name = coalesce($3, name),
           email = CASE WHEN $4 THEN $5 ELSE email END,
           login_id = CASE WHEN $6 THEN $7 ELSE login_id END,
           phone = CASE WHEN $8 THEN $9 ELSE phone END,
           password_hash = coalesce($10, password_hash),
           role = coalesce($11, role),
           status = coalesce($12, status)
         WHERE id = $1 AND store_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(store)
    .bind(name)
    .bind(email.is_some())
    .bind(email.flatten())
    .bind(login_id.is_some())
    .bind(login_id.flatten())
    .bind(phone.is_some())
    .bind(phone.flatten())
    .bind(&hash)
    .bind(input.role)
    .bind(input.status)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match db::is_check_violation(&e) {
        true => TenancyError::Validation(kernel::ValidationErrors::one(
            "email",
            "required",
            "a staff member needs an email, a login_id or a phone to sign in with",
        )),
        false => map_unique(e),
    })?;
    // a new password or a lost access ends every session
    if hash.is_some() || member.status == StaffStatus::Disabled || input.role.is_some_and(|r| r != current.role) {
        crate::auth::revoke_all_sessions(tx, id).await?;
    }
    record(tx, StaffUpdated, &member, by.actor()).await?;
    Ok(member)
}

/// Soft-deletes a staff member and ends their sessions.
pub async fn delete_staff(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: StaffId) -> Result<(), TenancyError> {
    by.require(Permission::StaffManage)?;
    let current = lock(tx, store, by, id).await?;
    if !by.can_manage(current.role) {
        return Err(TenancyError::CannotManageRole(current.role));
    }
    if current.role == Role::Owner
        && current.status == StaffStatus::Active
        && active_owners(tx, store, current.vendor_id).await? <= 1
    {
        return Err(TenancyError::LastOwner);
    }
    sqlx::query("UPDATE store_staff SET deleted_at = now(), status = 'disabled' WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    crate::auth::revoke_all_sessions(tx, id).await?;
    record(tx, StaffDeleted, &current, by.actor()).await?;
    Ok(())
}

/// Ends every session of a staff member (a lost device, a departure). Anyone may end their
/// own; ending someone else's needs `staff_manage` and the right to manage their role.
pub async fn revoke_sessions(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: StaffId) -> Result<u64, TenancyError> {
    let member = get_staff(tx, store, by, id).await?;
    if by.staff_id() != Some(id) {
        by.require(Permission::StaffManage)?;
        if !by.can_manage(member.role) {
            return Err(TenancyError::CannotManageRole(member.role));
        }
    }
    Ok(crate::auth::revoke_all_sessions(tx, id).await?)
}

/// Locks a member of the store within the acting party's reach (a vendor's staff reach their
/// own vendor's members only).
async fn lock(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: StaffId) -> Result<StaffMember, TenancyError> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM store_staff WHERE id = $1 AND store_id = $2 AND deleted_at IS NULL
            AND ($3::uuid IS NULL OR vendor_id = $3) FOR UPDATE"
    ))
    .bind(id)
    .bind(store)
    .bind(by.vendor())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(TenancyError::StaffNotFound)
}

/// The active owners of the store (`vendor` none) or of one of its vendors: each keeps at least
/// one.
async fn active_owners(tx: &mut Tx, store: StoreId, vendor: Option<VendorId>) -> Result<i64, sqlx::Error> {
    // lock the owners so two concurrent demotions cannot both pass the check
    let owners: Vec<StaffId> = sqlx::query_scalar(
        "SELECT id FROM store_staff WHERE store_id = $1 AND role = 'owner' AND status = 'active' AND deleted_at IS NULL
            AND vendor_id IS NOT DISTINCT FROM $2 FOR UPDATE",
    )
    .bind(store)
    .bind(vendor)
    .fetch_all(&mut **tx)
    .await?;
    Ok(owners.len() as i64)
}

async fn record<P: events::Payload>(
    tx: &mut Tx,
    event: fn(StaffChange) -> P,
    member: &StaffMember,
    actor: Actor,
) -> Result<(), sqlx::Error> {
    let payload = event(StaffChange { staff: member.clone(), actor });
    events::record(tx, events::NewEvent::of(&payload).in_store(member.store_id)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_field_reads_email_phone_or_login_id() {
        assert_eq!(Login::parse(" Owner@Example.COM "), Some(Login::Email("owner@example.com".into())));
        assert_eq!(Login::parse("090-1234-5678"), Some(Login::Phone("+819012345678".into())));
        assert_eq!(Login::parse("Tanaka.K"), Some(Login::LoginId("tanaka.k".into())));
        assert_eq!(Login::parse("a b"), None);
    }
}
