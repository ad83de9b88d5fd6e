//! Vendors: who ships an item. A single-brand tenant has exactly one, itself (the house
//! vendor); a mall has one per merchant it hosts.
//!
//! A mall's vendor is `active` or `suspended` (its products leave the storefront and cannot be
//! bought; its open orders can still be fulfilled). It has a bank account the mall pays it to,
//! its qualified-invoice registration number for the statements, and a commission schedule:
//! default rates in basis points, each with the day (Asia/Tokyo) it takes effect. An order line
//! takes the rate in effect the day it is placed, and keeps it (docs/MALL.md).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::jp::{self, BankAccount};
use kernel::{Page, PageRequest, Validator, VendorId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::TenancyError;
use crate::tenants::{self, TenantKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum VendorStatus {
    Active,
    /// Its products are not sellable; its open orders can still be fulfilled.
    Suspended,
}

/// A default commission rate from a day on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct CommissionRate {
    /// Basis points of the line's base (1000 = 10%).
    pub rate_bps: i32,
    /// The first day (Asia/Tokyo) orders placed take this rate.
    pub effective_from: NaiveDate,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Vendor {
    pub id: VendorId,
    pub name: String,
    pub status: VendorStatus,
    /// The default commission rate in effect today, in basis points (1000 = 10%).
    pub commission_rate_bps: i32,
    /// The schedule of default rates, the latest first (future rates included).
    pub commission_rates: Vec<CommissionRate>,
    /// 適格請求書発行事業者登録番号, `T` + 13 digits.
    pub registration_number: Option<String>,
    /// Where the mall pays the vendor (振込先).
    pub bank_account: BankAccount,
    /// True for the vendor that is the single-brand tenant itself.
    pub is_house: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: VendorId,
    name: String,
    status: VendorStatus,
    registration_number: Option<String>,
    bank_account: sqlx::types::Json<BankAccount>,
    is_house: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVendor {
    pub name: String,
    /// The default commission rate from today (basis points, default 0).
    #[serde(default)]
    pub commission_rate_bps: i32,
    /// `T` + 13 digits; full-width and hyphenated forms are accepted.
    pub registration_number: Option<String>,
    pub bank_account: Option<BankAccount>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVendor {
    pub name: Option<String>,
    pub status: Option<VendorStatus>,
    /// A new default commission rate, from `commission_effective_from` (default today).
    pub commission_rate_bps: Option<i32>,
    /// The day (Asia/Tokyo, today or later) the new rate takes effect; a rate already set for
    /// that day is replaced. Orders placed before keep the rate they were placed with.
    pub commission_effective_from: Option<NaiveDate>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<String>)]
    pub registration_number: Option<Option<String>>,
    /// Replaces the bank account.
    pub bank_account: Option<BankAccount>,
}

const COLUMNS: &str = "id, name, status, registration_number, bank_account, is_house, created_at, updated_at";

/// Completes rows with their commission schedules.
async fn complete(tx: &mut Tx, rows: Vec<Row>) -> Result<Vec<Vendor>, sqlx::Error> {
    let ids: Vec<VendorId> = rows.iter().map(|r| r.id).collect();
    let schedule: Vec<(VendorId, i32, NaiveDate)> = sqlx::query_as(
        "SELECT vendor_id, rate_bps, effective_from FROM vendor_commission_rates WHERE vendor_id = ANY($1)
          ORDER BY vendor_id, effective_from DESC",
    )
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    let today = jp::today();
    Ok(rows
        .into_iter()
        .map(|r| {
            let commission_rates: Vec<CommissionRate> = schedule
                .iter()
                .filter(|(v, _, _)| *v == r.id)
                .map(|&(_, rate_bps, effective_from)| CommissionRate { rate_bps, effective_from })
                .collect();
            Vendor {
                id: r.id,
                name: r.name,
                status: r.status,
                commission_rate_bps: rate_on(&commission_rates, today),
                commission_rates,
                registration_number: r.registration_number,
                bank_account: r.bank_account.0,
                is_house: r.is_house,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

/// The rate of a schedule (latest first) in effect on a day; 0 before its first rate.
pub fn rate_on(schedule: &[CommissionRate], day: NaiveDate) -> i32 {
    schedule.iter().find(|r| r.effective_from <= day).map_or(0, |r| r.rate_bps)
}

/// The default commission rate of each vendor in effect on a day (0 where none is yet).
pub async fn commission_rates_on(
    tx: &mut Tx,
    vendors: &[VendorId],
    day: NaiveDate,
) -> Result<HashMap<VendorId, i32>, sqlx::Error> {
    let rows: Vec<(VendorId, i32)> = sqlx::query_as(
        "SELECT DISTINCT ON (vendor_id) vendor_id, rate_bps FROM vendor_commission_rates
          WHERE vendor_id = ANY($1) AND effective_from <= $2 ORDER BY vendor_id, effective_from DESC",
    )
    .bind(vendors)
    .bind(day)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().collect())
}

async fn load(tx: &mut Tx, id: VendorId) -> Result<Option<Vendor>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM vendors WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => complete(tx, vec![r]).await?.pop(),
        None => None,
    })
}

pub(crate) async fn insert_house_vendor(tx: &mut Tx, name: &str) -> Result<VendorId, sqlx::Error> {
    let id = VendorId::new();
    sqlx::query("INSERT INTO vendors (id, tenant_id, name, is_house) VALUES ($1, $2, $3, true)")
        .bind(id)
        .bind(tx.tenant())
        .bind(name)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

/// The vendor that products default to: the house vendor of a single-brand tenant.
pub async fn house_vendor(tx: &mut Tx) -> Result<Option<Vendor>, sqlx::Error> {
    let id: Option<VendorId> =
        sqlx::query_scalar("SELECT id FROM vendors WHERE is_house").fetch_optional(&mut **tx).await?;
    match id {
        Some(id) => load(tx, id).await,
        None => Ok(None),
    }
}

/// A vendor of the tenant, for the services that use it (no permission asked).
pub async fn get_vendor(tx: &mut Tx, id: VendorId) -> Result<Vendor, TenancyError> {
    load(tx, id).await?.ok_or(TenancyError::VendorNotFound)
}

/// A vendor as staff see it: any for the mall's staff, their own for a vendor's staff.
pub async fn find_vendor(tx: &mut Tx, by: Acting<'_>, id: VendorId) -> Result<Vendor, TenancyError> {
    by.require(Permission::CatalogRead)?;
    if !by.sees_vendor(id) {
        return Err(TenancyError::VendorNotFound);
    }
    get_vendor(tx, id).await
}

/// The tenant's vendors; a vendor's staff see their own vendor only.
pub async fn list_vendors(tx: &mut Tx, by: Acting<'_>, page: &PageRequest) -> Result<Page<Vendor>, TenancyError> {
    by.require(Permission::CatalogRead)?;
    let limit = page.limit()?;
    let after: Option<VendorId> = page.after()?;
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM vendors WHERE ($1::uuid IS NULL OR id > $1) AND ($3::uuid IS NULL OR id = $3)
          ORDER BY id LIMIT $2"
    ))
    .bind(after)
    .bind(limit as i64 + 1)
    .bind(by.vendor())
    .fetch_all(&mut **tx)
    .await?;
    let vendors = complete(tx, rows).await?;
    Ok(Page::from_rows(vendors, limit, |v: &Vendor| v.id))
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

fn parse_registration(v: &mut Validator, raw: &str) -> Option<String> {
    v.check("registration_number", jp::normalize_registration_number(raw))
}

async fn set_rate(tx: &mut Tx, vendor: VendorId, rate_bps: i32, from: NaiveDate) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO vendor_commission_rates (tenant_id, vendor_id, effective_from, rate_bps) VALUES ($1, $2, $3, $4)
         ON CONFLICT (vendor_id, effective_from) DO UPDATE SET rate_bps = excluded.rate_bps, created_at = now()",
    )
    .bind(tx.tenant())
    .bind(vendor)
    .bind(from)
    .bind(rate_bps)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds a vendor to a mall tenant, its commission rate in effect from today.
pub async fn create_vendor(tx: &mut Tx, by: Acting<'_>, input: CreateVendor) -> Result<Vendor, TenancyError> {
    by.require(Permission::StoreManage)?;
    let mut v = Validator::new();
    let name = v.text("name", &input.name, 200);
    v.range("commission_rate_bps", input.commission_rate_bps, 0, 10_000);
    let registration = input.registration_number.as_deref().and_then(|r| parse_registration(&mut v, r));
    if let Some(a) = &input.bank_account {
        a.check(&mut v, "bank_account.");
    }
    v.into_result()?;
    let tenant = tenants::find(tx).await?.ok_or(TenancyError::TenantNotFound)?;
    if tenant.kind != TenantKind::Mall {
        return Err(TenancyError::NotAMall);
    }
    let id = VendorId::new();
    sqlx::query(
        "INSERT INTO vendors (id, tenant_id, name, commission_rate_bps, registration_number, bank_account)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(tx.tenant())
    .bind(&name)
    .bind(input.commission_rate_bps)
    .bind(&registration)
    .bind(sqlx::types::Json(input.bank_account.unwrap_or_default()))
    .execute(&mut **tx)
    .await?;
    set_rate(tx, id, input.commission_rate_bps, jp::today()).await?;
    let vendor = get_vendor(tx, id).await?;
    events::record(tx, events::NewEvent::of(&crate::event::VendorCreated(vendor.clone()))).await?;
    Ok(vendor)
}

/// Changes a vendor: its name, status, a new default commission rate from a day, its
/// registration number, its bank account (the mall's staff and the operator).
pub async fn update_vendor(
    tx: &mut Tx,
    by: Acting<'_>,
    id: VendorId,
    input: UpdateVendor,
) -> Result<Vendor, TenancyError> {
    by.require(Permission::StoreManage)?;
    let mut v = Validator::new();
    let name = input.name.as_deref().map(|n| v.text("name", n, 200));
    if let Some(rate) = input.commission_rate_bps {
        v.range("commission_rate_bps", rate, 0, 10_000);
    }
    let from = input.commission_effective_from.unwrap_or_else(jp::today);
    if input.commission_effective_from.is_some() && input.commission_rate_bps.is_none() {
        v.push("commission_rate_bps", "required", "give the rate that takes effect from that day");
    } else if from < jp::today() {
        v.push(
            "commission_effective_from",
            "out_of_range",
            "a rate takes effect today or later (orders already placed keep theirs)",
        );
    }
    let registration = match &input.registration_number {
        Some(Some(r)) => Some(parse_registration(&mut v, r)),
        Some(None) => Some(None),
        None => None,
    };
    if let Some(a) = &input.bank_account {
        a.check(&mut v, "bank_account.");
    }
    v.into_result()?;
    let current: Option<(bool,)> = sqlx::query_as("SELECT is_house FROM vendors WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    let (is_house,) = current.ok_or(TenancyError::VendorNotFound)?;
    if is_house {
        // a single-brand tenant is its own vendor: nothing of a mall's to change
        return Err(TenancyError::NotAMall);
    }
    sqlx::query(
        "UPDATE vendors SET name = coalesce($2, name), status = coalesce($3, status),
            registration_number = CASE WHEN $4 THEN $5 ELSE registration_number END,
            bank_account = coalesce($6, bank_account)
          WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(input.status)
    .bind(registration.is_some())
    .bind(registration.flatten())
    .bind(input.bank_account.map(sqlx::types::Json))
    .execute(&mut **tx)
    .await?;
    if let Some(rate) = input.commission_rate_bps {
        set_rate(tx, id, rate, from).await?;
    }
    let vendor = get_vendor(tx, id).await?;
    events::record(tx, events::NewEvent::of(&crate::event::VendorUpdated(vendor.clone()))).await?;
    Ok(vendor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_of_a_day_is_the_latest_that_took_effect() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let schedule = [
            CommissionRate { rate_bps: 800, effective_from: d("2027-01-01") },
            CommissionRate { rate_bps: 1000, effective_from: d("2026-06-01") },
        ];
        assert_eq!(rate_on(&schedule, d("2026-05-31")), 0);
        assert_eq!(rate_on(&schedule, d("2026-06-01")), 1000);
        assert_eq!(rate_on(&schedule, d("2026-12-31")), 1000);
        assert_eq!(rate_on(&schedule, d("2027-01-01")), 800);
    }
}
