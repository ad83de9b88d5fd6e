//! Checkout's periodic work in the worker: cancel bank-transfer orders unpaid at their due date
//! (their stock returns), abandon carts untouched for the store's abandonment time (their holds
//! return), and forget stored Idempotency-Key answers after a day.

use std::time::Duration;

use db::Db;
use kernel::{CartId, StoreId, TenantId};
use tokio_util::sync::CancellationToken;

/// Abandons up to `batch` of a tenant's stale carts.
/// A store the database's workers leave alone (a move in progress, docs/ROUTING.md) waits.
pub async fn abandon_stale(db: &Db, tenant: TenantId, batch: i64) -> Result<usize, sqlx::Error> {
    let skip = db.stores_left_alone().await?;
    let mut tx = db.begin(tenant).await?;
    let stale: Vec<(CartId, StoreId)> = sqlx::query_as(
        "SELECT c.id, c.store_id FROM carts c JOIN store_settings s ON s.store_id = c.store_id
          WHERE c.status = 'active' AND c.last_activity_at < now() - make_interval(secs => s.cart_abandon_after_seconds)
            AND NOT c.store_id = ANY($2)
          ORDER BY c.last_activity_at LIMIT $1 FOR UPDATE OF c SKIP LOCKED",
    )
    .bind(batch)
    .bind(&skip)
    .fetch_all(&mut *tx)
    .await?;
    for (cart, store) in &stale {
        crate::cart::release_all(&mut tx, *store, *cart).await?;
        sqlx::query("UPDATE carts SET status = 'abandoned' WHERE id = $1").bind(cart).execute(&mut *tx).await?;
        let event = crate::event::CartAbandoned { cart_id: *cart };
        events::record(&mut tx, events::NewEvent::of(&event).in_store(*store)).await?;
    }
    tx.commit().await?;
    Ok(stale.len())
}

/// One round of every job. Answers (orders canceled, carts abandoned).
pub async fn run_once(db: &Db, batch: i64) -> Result<(usize, usize), sqlx::Error> {
    let mut canceled = 0;
    let overdue: Vec<TenantId> = sqlx::query_scalar("SELECT * FROM tenpo_overdue_payment_tenants($1)")
        .bind(batch as i32)
        .fetch_all(db.platform())
        .await?;
    for t in overdue {
        canceled += crate::fulfillment::cancel_overdue(db, t, batch).await?;
    }
    let mut abandoned = 0;
    let stale: Vec<TenantId> = sqlx::query_scalar("SELECT * FROM tenpo_stale_cart_tenants($1)")
        .bind(batch as i32)
        .fetch_all(db.platform())
        .await?;
    for t in stale {
        abandoned += abandon_stale(db, t, batch).await?;
    }
    sqlx::query("SELECT tenpo_purge_idempotency_keys(86400)").execute(db.platform()).await?;
    Ok((canceled, abandoned))
}

pub async fn run(db: Db, every: Duration, shutdown: CancellationToken) {
    tracing::info!(every_ms = every.as_millis() as u64, "checkout jobs started");
    while !shutdown.is_cancelled() {
        match run_once(&db, 200).await {
            Ok((0, 0)) => {}
            Ok((canceled, abandoned)) => {
                tracing::info!(canceled, abandoned, "canceled unpaid orders and abandoned stale carts");
                metrics::counter!("tenpo_orders_canceled_unpaid_total").increment(canceled as u64);
                metrics::counter!("tenpo_carts_abandoned_total").increment(abandoned as u64);
            }
            Err(e) => tracing::warn!(error = %e, "checkout jobs failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}
