//! The worker's expiry job: active deliveries whose `url_expires_at` has passed become `expired`,
//! each with a `digital.delivery_expired` event. Downloads are refused from the instant of expiry
//! anyway (the download check compares the time); this makes the status say so and tells
//! integrations. Tenants with work are found through `tenpo_expired_delivery_tenants`; each batch
//! runs in a tenant transaction with `FOR UPDATE SKIP LOCKED`, so several workers share the work.

use std::time::Duration;

use chrono::{DateTime, Utc};
use db::Db;
use kernel::{DeliveryId, OrderId, StoreId, TenantId};
use tokio_util::sync::CancellationToken;

use crate::delivery::record;

/// Expires up to `batch` of a tenant's passed deliveries; answers how many.
pub async fn expire_tenant(db: &Db, tenant: TenantId, batch: i64) -> Result<usize, sqlx::Error> {
    let mut tx = db.begin(tenant).await?;
    let expired: Vec<(DeliveryId, OrderId, StoreId, Option<DateTime<Utc>>)> = sqlx::query_as(
        "WITH due AS (
           SELECT id FROM digital_deliveries WHERE status = 'active' AND url_expires_at <= now()
            ORDER BY url_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         UPDATE digital_deliveries d SET status = 'expired'
           FROM due, orders o
          WHERE d.id = due.id AND o.id = d.order_id
         RETURNING d.id, d.order_id, o.store_id, d.url_expires_at",
    )
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    for (delivery, order, store, at) in &expired {
        let event = crate::event::DeliveryExpired { delivery_id: *delivery, order_id: *order, url_expires_at: *at };
        record(&mut tx, *store, &event).await?;
    }
    tx.commit().await?;
    Ok(expired.len())
}

/// One round over every tenant with passed deliveries.
pub async fn run_once(db: &Db, batch: i64) -> Result<usize, sqlx::Error> {
    let tenants: Vec<TenantId> = sqlx::query_scalar("SELECT * FROM tenpo_expired_delivery_tenants($1)")
        .bind(batch as i32)
        .fetch_all(db.platform())
        .await?;
    let mut n = 0;
    for t in tenants {
        n += expire_tenant(db, t, batch).await?;
    }
    Ok(n)
}

/// Runs rounds every `every` until `shutdown` fires.
pub async fn run(db: Db, every: Duration, shutdown: CancellationToken) {
    tracing::info!(every_ms = every.as_millis() as u64, "digital delivery expiry started");
    while !shutdown.is_cancelled() {
        match run_once(&db, 500).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(expired = n, "digital deliveries expired");
                metrics::counter!("tenpo_digital_deliveries_expired_total").increment(n as u64);
            }
            Err(e) => tracing::warn!(error = %e, "digital delivery expiry failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}
