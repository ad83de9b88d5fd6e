//! Mirrors of control rows in store databases (docs/ROUTING.md).
//!
//! Store data keeps its composite foreign keys in every database, so a store database holds a
//! copy of the control rows its store data points at: its tenant, the tenant's vendors and the
//! stores routed there. The use cases that write those rows on the control database call
//! [`refresh_tenant`] after they commit, and so does routing a store. Every copy is an upsert of
//! whole rows (column lists read from the catalog: every database carries the same migrations),
//! so replaying one is harmless.

use kernel::{StoreId, TenantId};

use crate::routing::RouteError;
use crate::{Db, Tx};

/// The rows a store holds before it has any data, copied when it is routed (a store with
/// products, carts or orders is moved instead).
const SETUP_TABLES: [&str; 5] =
    ["store_settings", "store_digital_settings", "store_order_counters", "store_sync_settings", "store_locations"];

/// Copies the tenant's row, its vendors and its stores into every store database that holds one
/// of the tenant's stores. Nothing happens for a tenant whose stores all live in the main one.
pub async fn refresh_tenant(db: &Db, tenant: TenantId) -> Result<(), RouteError> {
    let control = db.control();
    let mut tx = control.begin(tenant).await?;
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT r.db_key FROM store_db_routing r JOIN stores s ON s.id = r.store_id ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    for key in keys {
        let target = control.database(Some(&key)).await?;
        mirror_into(&control, &target, tenant).await?;
    }
    Ok(())
}

/// [`refresh_tenant`] for a caller whose control write has committed already: a store database
/// that cannot take the copy now is logged, and the next write or route change copies again.
pub async fn refresh_tenant_or_warn(db: &Db, tenant: TenantId) {
    if let Err(e) = refresh_tenant(db, tenant).await {
        tracing::warn!(tenant_id = %tenant, error = %e, "control rows not mirrored into a store database");
    }
}

/// The tenant, its vendors and the stores routed to `target`, upserted there.
pub(crate) async fn mirror_into(control: &Db, target: &Db, tenant: TenantId) -> Result<(), sqlx::Error> {
    let key = target.db_key().to_string();
    let mut from = control.begin(tenant).await?;
    let mut to = target.begin(tenant).await?;
    copy(&mut from, &mut to, "tenants", "id = $1::uuid", &tenant.to_string()).await?;
    copy(&mut from, &mut to, "vendors", "tenant_id = $1::uuid", &tenant.to_string()).await?;
    copy(&mut from, &mut to, "stores", "id IN (SELECT store_id FROM store_db_routing WHERE db_key = $1)", &key).await?;
    from.commit().await?;
    to.commit().await
}

/// Copies a store's setup rows (settings, counters, locations) from the database it lived in to
/// the one it is routed to.
pub(crate) async fn copy_setup(source: &Db, target: &Db, tenant: TenantId, store: StoreId) -> Result<(), sqlx::Error> {
    let mut from = source.begin(tenant).await?;
    let mut to = target.begin(tenant).await?;
    let id = store.to_string();
    // the store row first: the setup rows point at it
    copy(&mut from, &mut to, "stores", "id = $1::uuid", &id).await?;
    for table in SETUP_TABLES {
        copy(&mut from, &mut to, table, "store_id = $1::uuid", &id).await?;
    }
    from.commit().await?;
    to.commit().await
}

/// Upserts the rows of `table` matching `filter` (one text parameter) from one transaction into
/// the other, whole rows by primary key.
async fn copy(from: &mut Tx, to: &mut Tx, table: &str, filter: &str, param: &str) -> Result<u64, sqlx::Error> {
    let t = crate::migrate::quote_ident(table);
    let rows: serde_json::Value =
        sqlx::query_scalar(&format!("SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]'::jsonb) FROM {t} t WHERE {filter}"))
            .bind(param)
            .fetch_one(&mut **from)
            .await?;
    upsert(to, table, &rows).await
}

/// Upserts whole rows (a JSON array of `to_jsonb` rows) into `table` by primary key.
pub(crate) async fn upsert(to: &mut Tx, table: &str, rows: &serde_json::Value) -> Result<u64, sqlx::Error> {
    if rows.as_array().is_none_or(|r| r.is_empty()) {
        return Ok(0);
    }
    let t = crate::migrate::quote_ident(table);
    let (columns, key): (Vec<String>, Vec<String>) = sqlx::query_as(
        "SELECT array_agg(quote_ident(a.attname::text) ORDER BY a.attnum) FILTER (WHERE a.attgenerated = ''),
                array_agg(quote_ident(a.attname::text) ORDER BY a.attnum) FILTER (WHERE a.attnum = ANY (i.indkey))
           FROM pg_attribute a
           LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
          WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .bind(table)
    .fetch_one(&mut **to)
    .await?;
    let cols = columns.join(", ");
    let excluded: Vec<String> = columns.iter().map(|c| format!("EXCLUDED.{c}")).collect();
    let done = sqlx::query(&format!(
        "INSERT INTO {t} ({cols}) SELECT {cols} FROM jsonb_populate_recordset(NULL::{t}, $1)
         ON CONFLICT ({key}) DO UPDATE SET ({cols}) = ROW({excluded})",
        key = key.join(", "),
        excluded = excluded.join(", "),
    ))
    .bind(rows)
    .execute(&mut **to)
    .await?;
    Ok(done.rows_affected())
}
