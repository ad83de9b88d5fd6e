//! Tenants: the businesses an operator hosts. A single-brand tenant sells as itself (one house
//! vendor, created with it); a mall hosts many vendors on one storefront.

use chrono::{DateTime, Utc};
use db::Db;
use kernel::{Currency, Page, PageRequest, TenantId, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::TenancyError;
use crate::vendors;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TenantKind {
    SingleBrand,
    Mall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: TenantKind,
    pub default_currency: Currency,
    pub status: TenantStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    #[schema(example = "Kissa Tanaka")]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: TenantKind,
    /// Currency of every price in the tenant's stores (default JPY).
    pub default_currency: Option<Currency>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    pub name: Option<String>,
    /// `suspended` stops its staff from signing in and its storefronts from answering.
    pub status: Option<TenantStatus>,
}

const COLUMNS: &str = "id, name, type, default_currency, status, created_at, updated_at";

pub async fn create_tenant(db: &Db, input: CreateTenant) -> Result<Tenant, TenancyError> {
    let mut v = Validator::new();
    let name = v.text("name", &input.name, 200);
    v.into_result()?;
    let id = TenantId::new();
    let currency = input.default_currency.unwrap_or(Currency::JPY);
    let mut tx = db.begin(id).await?;
    let tenant: Tenant = sqlx::query_as(&format!(
        "INSERT INTO tenants (id, name, type, default_currency) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&name)
    .bind(input.kind)
    .bind(currency)
    .fetch_one(&mut *tx)
    .await?;
    if input.kind == TenantKind::SingleBrand {
        vendors::insert_house_vendor(&mut tx, &name).await?;
    }
    events::record(&mut tx, events::NewEvent::of(&crate::event::TenantCreated(tenant.clone()))).await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %id, kind = ?input.kind, "tenant created");
    Ok(tenant)
}

pub async fn get_tenant(db: &Db, id: TenantId) -> Result<Tenant, TenancyError> {
    let mut tx = db.begin(id).await?;
    let tenant = find(&mut tx).await?.ok_or(TenancyError::TenantNotFound)?;
    tx.commit().await?;
    Ok(tenant)
}

/// The tenant of the transaction, if it exists.
pub async fn find(tx: &mut db::Tx) -> Result<Option<Tenant>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE id = $1"))
        .bind(tx.tenant())
        .fetch_optional(&mut **tx)
        .await
}

/// Operator listing across tenants (through the tenpo_list_tenants entry point).
pub async fn list_tenants(db: &Db, page: &PageRequest) -> Result<Page<Tenant>, TenancyError> {
    let limit = page.limit()?;
    let after: Option<TenantId> = page.after()?;
    let rows: Vec<Tenant> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenpo_list_tenants($1, $2)"))
        .bind(after)
        .bind(limit as i32 + 1)
        .fetch_all(db.platform())
        .await?;
    Ok(Page::from_rows(rows, limit, |t| t.id))
}

pub async fn update_tenant(db: &Db, id: TenantId, input: UpdateTenant) -> Result<Tenant, TenancyError> {
    let mut v = Validator::new();
    let name = input.name.as_deref().map(|n| v.text("name", n, 200));
    v.into_result()?;
    let mut tx = db.begin(id).await?;
    let tenant: Tenant = sqlx::query_as(&format!(
        "UPDATE tenants SET name = coalesce($2, name), status = coalesce($3, status) WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(input.status)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(TenancyError::TenantNotFound)?;
    events::record(&mut tx, events::NewEvent::of(&crate::event::TenantUpdated(tenant.clone()))).await?;
    tx.commit().await?;
    // the copies in the databases of its routed stores (docs/ROUTING.md)
    db::mirror::refresh_tenant_or_warn(db, id).await;
    Ok(tenant)
}
