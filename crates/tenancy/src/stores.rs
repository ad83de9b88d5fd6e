//! Stores: a tenant's shops. Each has a handle used in storefront URLs, its settings rows, an
//! order-number counter and (unless asked otherwise) a first location, `main`.

use chrono::{DateTime, Utc};
use db::{Db, Tx};
use kernel::access::{Acting, Permission};
use kernel::{Page, PageRequest, StoreId, StoreRef, TenantId, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::TenancyError;
use crate::locations::{self, CreateLocation};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum StoreStatus {
    Active,
    /// Closed to shoppers; staff can still work in it.
    Inactive,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Store {
    pub id: StoreId,
    pub tenant_id: TenantId,
    /// Storefront URL handle: /store/v1/stores/{handle}/...
    pub handle: String,
    pub name: String,
    pub status: StoreStatus,
    pub timezone: String,
    /// The host name whose `/` serves this store's storefront pages (`shop.example.jp`), unique
    /// across the deployment; the pages are always at `/shop/{handle}` too.
    pub domain: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStore {
    /// Lower-case letters, digits and dashes, unique across the deployment.
    #[schema(example = "kissa-tanaka")]
    pub handle: String,
    pub name: String,
    /// Create the first location, `main` (default true).
    pub default_location: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStore {
    pub name: Option<String>,
    pub status: Option<StoreStatus>,
    /// A host name (`shop.example.jp`, internationalised names in their `xn--` form) pointed at
    /// Tenpo; 409 `store_domain_taken` when another store has it; empty clears it.
    #[schema(example = "shop.example.jp")]
    pub domain: Option<String>,
}

const COLUMNS: &str = "id, tenant_id, handle, name, status, timezone, domain, created_at, updated_at";

/// A store's domain as requests' Host headers carry it: lower case, no trailing dot, at least
/// two labels of letters, digits and dashes (not at either end), 253 characters at most; no
/// port, no IP address.
pub fn parse_domain(raw: &str) -> Result<String, &'static str> {
    let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let numeric = labels.last().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if d.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) || numeric {
        return Err("use a host name such as shop.example.jp (no scheme, port or path; xn-- for non-ASCII names)");
    }
    Ok(d)
}

/// The store whose domain is `host` (a request's Host without its port), through the
/// tenpo_resolve_store_domain entry point: before any tenant is known.
pub async fn resolve_domain(db: &Db, host: &str) -> Result<Option<(TenantId, StoreId, StoreStatus)>, sqlx::Error> {
    sqlx::query_as("SELECT tenant_id, store_id, status FROM tenpo_resolve_store_domain($1)")
        .bind(host)
        .fetch_optional(db.platform())
        .await
}

/// A store's handle: 1-63 of a-z, 0-9 and '-', starting with a letter or digit.
pub fn parse_handle(v: &mut Validator, field: &str, raw: &str) -> String {
    let h = raw.trim().to_ascii_lowercase();
    let ok = !h.is_empty()
        && h.len() <= 63
        && h.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !h.starts_with('-');
    if !ok {
        v.push(field, "invalid", "use 1 to 63 lower-case letters, digits and dashes, not starting with a dash");
    } else if uuid::Uuid::parse_str(&h).is_ok() {
        v.push(field, "invalid", "a handle cannot look like an id");
    }
    h
}

pub async fn create_store(db: &Db, tenant: TenantId, input: CreateStore) -> Result<Store, TenancyError> {
    let mut v = Validator::new();
    let handle = parse_handle(&mut v, "handle", &input.handle);
    let name = v.text("name", &input.name, 200);
    v.into_result()?;
    let mut tx = db.begin(tenant).await?;
    crate::tenants::find(&mut tx).await?.ok_or(TenancyError::TenantNotFound)?;
    let id = StoreId::new();
    let store: Store = sqlx::query_as(&format!(
        "INSERT INTO stores (id, tenant_id, handle, name) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(tenant)
    .bind(&handle)
    .bind(&name)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match db::constraint_of(&e) {
        Some("stores_handle_key") => TenancyError::StoreHandleTaken(handle.clone()),
        _ => e.into(),
    })?;
    // the store's settings rows, with defaults (docs/SCHEMA.md)
    for sql in [
        "INSERT INTO store_settings (store_id, tenant_id, currency) SELECT $1, $2, default_currency FROM tenants WHERE id = $2 ON CONFLICT DO NOTHING",
        "INSERT INTO store_digital_settings (store_id, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        "INSERT INTO store_order_counters (store_id, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        "INSERT INTO store_sync_settings (store_id, tenant_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    ] {
        sqlx::query(sql).bind(id).bind(tenant).execute(&mut *tx).await?;
    }
    if input.default_location.unwrap_or(true) {
        let main =
            CreateLocation { code: "main".into(), name: "Main warehouse".into(), priority: Some(100), vendor_id: None };
        locations::insert_location(&mut tx, id, kernel::access::Acting::Operator, main).await?;
    }
    events::record(&mut tx, events::NewEvent::of(&crate::event::StoreCreated(store.clone())).in_store(id)).await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant, store_id = %id, handle = %store.handle, "store created");
    Ok(store)
}

/// Which tenant a store reference (id or handle) belongs to, through the
/// tenpo_resolve_store entry point. Used before any tenant is known: storefront and sign-in.
pub async fn resolve(db: &Db, store: &StoreRef) -> Result<Option<(TenantId, StoreId, StoreStatus)>, sqlx::Error> {
    let (id, handle) = match store {
        StoreRef::Id(id) => (Some(*id), None),
        StoreRef::Handle(h) => (None, Some(h.as_str())),
    };
    sqlx::query_as("SELECT tenant_id, store_id, status FROM tenpo_resolve_store($1, $2)")
        .bind(id)
        .bind(handle)
        .fetch_optional(db.platform())
        .await
}

/// The database of a tenant's store data for what is kept per tenant rather than per store (a
/// mall's vendor statements, docs/MALL.md): its first store's (a mall has one storefront), the
/// main database when it has no store. The operator reads there what the store's staff read
/// through their store (docs/ROUTING.md).
pub async fn tenant_data_database(db: &Db, tenant: TenantId) -> Result<Db, db::routing::RouteError> {
    let mut tx = db.control().begin(tenant).await?;
    let first: Option<StoreId> =
        sqlx::query_scalar("SELECT id FROM stores ORDER BY created_at, id LIMIT 1").fetch_optional(&mut *tx).await?;
    tx.commit().await?;
    match first {
        Some(store) => db.store(store).await,
        None => Ok(db.control()),
    }
}

pub async fn get_store(tx: &mut Tx, id: StoreId) -> Result<Store, TenancyError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM stores WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(TenancyError::StoreNotFound)
}

pub async fn list_stores(tx: &mut Tx, page: &PageRequest) -> Result<Page<Store>, TenancyError> {
    let limit = page.limit()?;
    let after: Option<StoreId> = page.after()?;
    let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM stores WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
    ))
    .bind(after)
    .bind(limit as i64 + 1)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Page::from_rows(rows, limit, |s: &Store| s.id))
}

pub async fn update_store(tx: &mut Tx, id: StoreId, by: Acting<'_>, input: UpdateStore) -> Result<Store, TenancyError> {
    by.require(Permission::StoreManage)?;
    let mut v = Validator::new();
    let name = input.name.as_deref().map(|n| v.text("name", n, 200));
    // Some("") clears the domain
    let domain = input.domain.as_deref().map(str::trim).map(|raw| match raw {
        "" => String::new(),
        raw => v.check("domain", parse_domain(raw)).unwrap_or_default(),
    });
    v.into_result()?;
    let store: Store = sqlx::query_as(&format!(
        "UPDATE stores SET name = coalesce($2, name), status = coalesce($3, status),
                domain = CASE WHEN $4::text IS NULL THEN domain ELSE nullif($4, '') END
          WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(input.status)
    .bind(&domain)
    .fetch_optional(&mut **tx)
    .await
    .map_err(|e| match db::constraint_of(&e) {
        Some("stores_domain_key") => TenancyError::StoreDomainTaken(domain.clone().unwrap_or_default()),
        _ => e.into(),
    })?
    .ok_or(TenancyError::StoreNotFound)?;
    events::record(tx, events::NewEvent::of(&crate::event::StoreUpdated(store.clone())).in_store(id)).await?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_host_names() {
        assert_eq!(parse_domain(" Shop.Example.JP. ").unwrap(), "shop.example.jp");
        assert_eq!(parse_domain("xn--eckwd4c7c.jp").unwrap(), "xn--eckwd4c7c.jp");
        for bad in [
            "localhost",
            "https://shop.example.jp",
            "shop.example.jp:8080",
            "shop.example.jp/x",
            "-a.jp",
            "a-.jp",
            "a..jp",
            "10.0.0.1",
            "ショップ.jp",
            "",
        ] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
    }
}
