//! Vendors: who ships an item. A single-brand tenant has exactly one, itself (the house
//! vendor); a mall has one per merchant it hosts, each with a commission rate in basis points.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{Page, PageRequest, Validator, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::TenancyError;
use crate::tenants::{self, TenantKind};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Vendor {
    pub id: VendorId,
    pub name: String,
    /// Commission the mall keeps, in basis points (1000 = 10%).
    pub commission_rate_bps: i32,
    /// True for the vendor that is the single-brand tenant itself.
    pub is_house: bool,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVendor {
    pub name: String,
    #[serde(default)]
    pub commission_rate_bps: i32,
}

const COLUMNS: &str = "id, name, commission_rate_bps, is_house, status, created_at, updated_at";

pub(crate) async fn insert_house_vendor(tx: &mut Tx, name: &str) -> Result<Vendor, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO vendors (id, tenant_id, name, is_house) VALUES ($1, $2, $3, true) RETURNING {COLUMNS}"
    ))
    .bind(VendorId::new())
    .bind(tx.tenant())
    .bind(name)
    .fetch_one(&mut **tx)
    .await
}

/// The vendor that products default to: the house vendor of a single-brand tenant.
pub async fn house_vendor(tx: &mut Tx) -> Result<Option<Vendor>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM vendors WHERE is_house")).fetch_optional(&mut **tx).await
}

pub async fn get_vendor(tx: &mut Tx, id: VendorId) -> Result<Vendor, TenancyError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM vendors WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(TenancyError::VendorNotFound)
}

/// The tenant's vendors; a vendor's staff see their own vendor only.
pub async fn list_vendors(tx: &mut Tx, by: Acting<'_>, page: &PageRequest) -> Result<Page<Vendor>, TenancyError> {
    by.require(Permission::CatalogRead)?;
    let limit = page.limit()?;
    let after: Option<VendorId> = page.after()?;
    let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM vendors WHERE ($1::uuid IS NULL OR id > $1) AND ($3::uuid IS NULL OR id = $3)
          ORDER BY id LIMIT $2"
    ))
    .bind(after)
    .bind(limit as i64 + 1)
    .bind(by.vendor())
    .fetch_all(&mut **tx)
    .await?;
    Ok(Page::from_rows(rows, limit, |v: &Vendor| v.id))
}

/// The vendor a new row (a staff member, a location) belongs to, from what the caller asked:
/// `None` when the field was left out, `Some(None)` for an explicit `null`.
///
/// A vendor's staff create rows of their own vendor only: left out or their own id gives their
/// vendor, `null` is refused (403 `outside_vendor_scope`) and another vendor's id is a 404, as
/// for anything of another vendor. The mall's staff and the operator may name any vendor of a
/// mall; a single-brand tenant's rows have none.
pub(crate) async fn assign(
    tx: &mut Tx,
    by: Acting<'_>,
    requested: Option<Option<VendorId>>,
) -> Result<Option<VendorId>, TenancyError> {
    if let Some(own) = by.vendor() {
        return match requested {
            None => Ok(Some(own)),
            Some(Some(id)) if id == own => Ok(Some(own)),
            Some(None) => Err(TenancyError::OutsideVendorScope),
            Some(Some(_)) => Err(TenancyError::VendorNotFound),
        };
    }
    let Some(Some(id)) = requested else { return Ok(None) };
    let vendor = get_vendor(tx, id).await?;
    if vendor.is_house {
        return Err(kernel::ValidationErrors::one(
            "vendor_id",
            "invalid",
            "a single-brand tenant is its own vendor: leave vendor_id out",
        )
        .into());
    }
    Ok(Some(id))
}

/// Adds a vendor to a mall tenant.
pub async fn create_vendor(tx: &mut Tx, by: Acting<'_>, input: CreateVendor) -> Result<Vendor, TenancyError> {
    by.require(Permission::StoreManage)?;
    let mut v = Validator::new();
    let name = v.text("name", &input.name, 200);
    v.range("commission_rate_bps", input.commission_rate_bps, 0, 10_000);
    v.into_result()?;
    let tenant = tenants::find(tx).await?.ok_or(TenancyError::TenantNotFound)?;
    if tenant.kind != TenantKind::Mall {
        return Err(TenancyError::NotAMall);
    }
    let vendor: Vendor = sqlx::query_as(&format!(
        "INSERT INTO vendors (id, tenant_id, name, commission_rate_bps) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
    ))
    .bind(VendorId::new())
    .bind(tx.tenant())
    .bind(&name)
    .bind(input.commission_rate_bps)
    .fetch_one(&mut **tx)
    .await?;
    events::record(tx, events::NewEvent::of(&crate::event::VendorCreated(vendor.clone()))).await?;
    Ok(vendor)
}
