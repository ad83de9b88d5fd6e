//! Store locations: warehouses and shops that hold stock. Reservations take stock from a
//! product's locations in priority order (lower first).
//!
//! In a mall a location may belong to a vendor (its own warehouse): a vendor's stock lives at
//! its locations, and its staff see and manage only those. A location without a vendor is the
//! mall's own.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{LocationId, StoreId, Validator, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::TenancyError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum LocationStatus {
    Active,
    Inactive,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Location {
    pub id: LocationId,
    pub store_id: StoreId,
    pub code: String,
    pub name: String,
    pub status: LocationStatus,
    /// Lower first when choosing where to reserve stock.
    pub priority: i32,
    /// Mall mode: the vendor whose warehouse this is; none for the mall's own.
    pub vendor_id: Option<VendorId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLocation {
    /// Letters, digits, '-' and '_', unique in the store.
    #[schema(example = "tokyo-1")]
    pub code: String,
    pub name: String,
    pub priority: Option<i32>,
    /// Mall mode: the vendor whose warehouse this is. A vendor's staff add locations of their
    /// own vendor (leave it out); the mall's staff may name any vendor, or none.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<VendorId>)]
    pub vendor_id: Option<Option<VendorId>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLocation {
    pub name: Option<String>,
    pub status: Option<LocationStatus>,
    pub priority: Option<i32>,
}

const COLUMNS: &str = "id, store_id, code, name, status, priority, vendor_id, created_at, updated_at";

fn parse_code(v: &mut Validator, raw: &str) -> String {
    let code = raw.trim().to_string();
    let ok =
        (1..=64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        v.push("code", "invalid", "use 1 to 64 letters, digits, '-' and '_'");
    }
    code
}

pub(crate) async fn insert_location(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    input: CreateLocation,
) -> Result<Location, TenancyError> {
    let mut v = Validator::new();
    let code = parse_code(&mut v, &input.code);
    let name = v.text("name", &input.name, 200);
    let priority = v.range("priority", input.priority.unwrap_or(100), 0, 1_000_000);
    v.into_result()?;
    let vendor = crate::vendors::assign(tx, by, input.vendor_id).await?;
    let location: Location = sqlx::query_as(&format!(
        "INSERT INTO store_locations (id, tenant_id, store_id, code, name, priority, vendor_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(LocationId::new())
    .bind(tx.tenant())
    .bind(store)
    .bind(&code)
    .bind(&name)
    .bind(priority)
    .bind(vendor)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match db::constraint_of(&e) {
        Some("store_locations_store_code_key") => TenancyError::LocationCodeTaken(code.clone()),
        _ => e.into(),
    })?;
    Ok(location)
}

pub async fn create_location(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    input: CreateLocation,
) -> Result<Location, TenancyError> {
    by.require(Permission::LocationsManage)?;
    // the store must be the tenant's: RLS hides another tenant's store
    crate::stores::get_store(tx, store).await?;
    let location = insert_location(tx, store, by, input).await?;
    events::record(tx, events::NewEvent::of(&crate::event::LocationCreated(location.clone())).in_store(store)).await?;
    Ok(location)
}

/// The store's locations; a vendor's staff see their vendor's own.
pub async fn list_locations(tx: &mut Tx, store: StoreId, by: Acting<'_>) -> Result<Vec<Location>, TenancyError> {
    by.require(Permission::StoreRead)?;
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM store_locations WHERE store_id = $1 AND deleted_at IS NULL
            AND ($2::uuid IS NULL OR vendor_id = $2)
          ORDER BY priority, code"
    ))
    .bind(store)
    .bind(by.vendor())
    .fetch_all(&mut **tx)
    .await?)
}

pub async fn get_location(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    id: LocationId,
) -> Result<Location, TenancyError> {
    by.require(Permission::StoreRead)?;
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM store_locations WHERE id = $1 AND store_id = $2 AND deleted_at IS NULL
            AND ($3::uuid IS NULL OR vendor_id = $3)"
    ))
    .bind(id)
    .bind(store)
    .bind(by.vendor())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(TenancyError::LocationNotFound)
}

pub async fn update_location(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    id: LocationId,
    input: UpdateLocation,
) -> Result<Location, TenancyError> {
    by.require(Permission::LocationsManage)?;
    let mut v = Validator::new();
    let name = input.name.as_deref().map(|n| v.text("name", n, 200));
    if let Some(p) = input.priority {
        v.range("priority", p, 0, 1_000_000);
    }
    v.into_result()?;
    let location: Location = sqlx::query_as(&format!(
        "UPDATE store_locations SET name = coalesce($3, name), status = coalesce($4, status), priority = coalesce($5, priority)
          WHERE id = $1 AND store_id = $2 AND deleted_at IS NULL AND ($6::uuid IS NULL OR vendor_id = $6) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(store)
    .bind(name)
    .bind(input.status)
    .bind(input.priority)
    .bind(by.vendor())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(TenancyError::LocationNotFound)?;
    events::record(tx, events::NewEvent::of(&crate::event::LocationUpdated(location.clone())).in_store(store)).await?;
    Ok(location)
}

/// Soft-deletes a location that holds no stock (orders keep referring to it).
pub async fn delete_location(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: LocationId) -> Result<(), TenancyError> {
    get_location(tx, store, by, id).await?;
    by.require(Permission::LocationsManage)?;
    let held: Option<i64> =
        sqlx::query_scalar("SELECT sum(stock)::bigint FROM inventory_stocks WHERE location_id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
    if held.unwrap_or(0) > 0 {
        return Err(TenancyError::LocationHasStock);
    }
    sqlx::query("UPDATE store_locations SET deleted_at = now(), status = 'inactive' WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    events::record(tx, events::NewEvent::of(&crate::event::LocationDeleted { id }).in_store(store)).await?;
    Ok(())
}
