//! The expiry sweep: the worker releases holds past their expiry and returns their units, in
//! batches, safely with several workers (each expiry happens once: only an active reservation
//! can expire, and the stock rows are locked first).

use std::time::Duration;

use db::Db;
use kernel::access::Actor;
use kernel::{ReservationId, StoreId, TenantId};
use tokio_util::sync::CancellationToken;

use crate::reservation::{self, ReservationStatus};

/// Expires up to `batch` due holds of one tenant; answers how many expired. The holds of a
/// store the database's workers leave alone (a move in progress, docs/ROUTING.md) wait: they
/// expire where the store is served from after the switch.
pub async fn expire_due(db: &Db, tenant: TenantId, batch: i64) -> Result<usize, sqlx::Error> {
    let skip = db.stores_left_alone().await?;
    let mut tx = db.begin(tenant).await?;
    let due: Vec<(ReservationId, StoreId)> = sqlx::query_as(
        "SELECT id, store_id FROM inventory_reservations
          WHERE status = 'active' AND expires_at <= now() AND NOT store_id = ANY($2)
          ORDER BY expires_at LIMIT $1",
    )
    .bind(batch)
    .bind(&skip)
    .fetch_all(&mut *tx)
    .await?;
    let mut by_store: std::collections::HashMap<StoreId, Vec<ReservationId>> = std::collections::HashMap::new();
    for (id, store) in due {
        by_store.entry(store).or_default().push(id);
    }
    let mut expired = 0;
    for (store, ids) in by_store {
        expired += reservation::end(&mut tx, store, &ids, ReservationStatus::Expired, Actor::System).await?.len();
    }
    tx.commit().await?;
    Ok(expired)
}

/// One round over every tenant with due holds. Answers how many holds expired.
pub async fn sweep_once(db: &Db, batch: i64) -> Result<usize, sqlx::Error> {
    let tenants: Vec<TenantId> = sqlx::query_scalar("SELECT * FROM tenpo_due_reservation_tenants($1)")
        .bind(batch as i32)
        .fetch_all(db.platform())
        .await?;
    let mut total = 0;
    for t in tenants {
        total += expire_due(db, t, batch).await?;
    }
    Ok(total)
}

/// Sweeps every `every` until shutdown.
pub async fn run(db: Db, every: Duration, batch: i64, shutdown: CancellationToken) {
    tracing::info!(every_ms = every.as_millis() as u64, "reservation expiry sweep started");
    while !shutdown.is_cancelled() {
        match sweep_once(&db, batch).await {
            Ok(0) => {}
            Ok(n) => {
                metrics::counter!("tenpo_reservations_expired_total").increment(n as u64);
                tracing::debug!(expired = n, "expired reservations");
                if n as i64 >= batch {
                    continue; // more are due
                }
            }
            Err(e) => tracing::warn!(error = %e, "reservation sweep failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}
