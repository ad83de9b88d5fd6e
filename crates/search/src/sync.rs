//! Keeping the index in step with the catalog.
//!
//! * [`SearchSync`], an outbox consumer, takes `product.*`, `variant.*` and
//!   `inventory.stock_changed` events and marks the product in `search_pending`, in the relay's
//!   transaction (which also records the event in processed_events: a redelivered event is
//!   skipped, and marking twice is the same as once).
//! * [`run`], in the process that writes the index (the worker), claims marked products in
//!   batches, rebuilds their documents from the database **as it is now** (not from the event),
//!   writes or removes them, and forgets the marks in the same transaction. Out-of-order or
//!   repeated events therefore cannot leave an old state in the index, and a crash before the
//!   commit leaves the marks for the next round.
//!
//! The sync lag is the relay's delivery time plus one round here: the consumer wakes the task
//! at once when both run in one process; otherwise it polls every `poll` (500 ms by default).
//! A round that found only a few marks is followed by a pause of `gather` (200 ms), so a
//! stream of single events is written in batches, one index commit per batch.
//!
//! The catalog import does not wait for the relay: its callers [`mark`] the products it wrote
//! in the import's own transaction, so a bulk import is searchable one round (batches of
//! `batch`, one commit each) after its commit, however long the outbox takes to deliver its
//! events (which mark the same products again: a mark twice is a mark once).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use db::{Db, Tx};
use events::{Consumer, ConsumerError, Event, EventType};
use kernel::{ProductId, StoreId, TenantId};
use tokio_util::sync::CancellationToken;

use crate::{Search, SearchError, document};

pub const CONSUMER: &str = "search.sync";

/// The outbox consumer: marks products whose document must be rebuilt.
pub struct SearchSync {
    search: Option<Search>,
}

impl SearchSync {
    /// `search`, when given, is woken after each mark (same process as the sync task).
    pub fn new(search: Option<Search>) -> Self {
        SearchSync { search }
    }
}

#[async_trait]
impl Consumer for SearchSync {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn wants(&self, event: &Event) -> bool {
        (event.store_id.is_some() && event.kind().is_some_and(changes_a_product)) || event.is(EventType::VendorUpdated)
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), ConsumerError> {
        self.handle_batch(tx, &[event]).await
    }

    /// The batch's products marked with one statement per store (variant events without the
    /// product in their payload looked up together); a vendor's products with one per vendor.
    async fn handle_batch(&self, tx: &mut Tx, events: &[&Event]) -> Result<(), ConsumerError> {
        let mut products: BTreeMap<StoreId, Vec<ProductId>> = BTreeMap::new();
        let mut variants: Vec<uuid::Uuid> = Vec::new();
        for event in events {
            if event.is(EventType::VendorUpdated) {
                // a suspension (or a new name) changes every document of the vendor's products
                let vendor: Option<uuid::Uuid> = event.aggregate_id.parse().ok();
                mark_vendor(tx, vendor).await?;
                continue;
            }
            let Some(store) = event.store_id else { continue };
            let product: Option<ProductId> = match event.kind().map(EventType::aggregate) {
                Some("product") => event.aggregate_id.parse().ok(),
                Some("variant") => match event.payload["product_id"].as_str().and_then(|s| s.parse().ok()) {
                    Some(p) => Some(p),
                    None => {
                        if let Ok(v) = event.aggregate_id.parse() {
                            variants.push(v);
                        }
                        continue;
                    }
                },
                _ => None,
            };
            match product {
                Some(p) => products.entry(store).or_default().push(p),
                None => {
                    tracing::debug!(event_id = %event.id, event_type = %event.event_type, "search sync: no product in event")
                }
            }
        }
        if !variants.is_empty() {
            let found: Vec<(StoreId, ProductId)> =
                sqlx::query_as("SELECT store_id, product_id FROM variants WHERE id = ANY($1)")
                    .bind(&variants)
                    .fetch_all(&mut **tx)
                    .await?;
            for (store, p) in found {
                products.entry(store).or_default().push(p);
            }
        }
        for (store, mut ids) in products {
            ids.sort();
            ids.dedup();
            mark(tx, store, &ids).await?;
        }
        if let Some(s) = &self.search {
            s.wake.notify_one();
        }
        Ok(())
    }
}

/// Events after which a product's search document may be out of date: every product and
/// variant event, and stock changes (availability is indexed).
fn changes_a_product(kind: EventType) -> bool {
    use EventType::*;
    matches!(
        kind,
        ProductCreated
            | ProductUpdated
            | ProductArchived
            | ProductDeleted
            | ProductDigitalSettingsUpdated
            | VariantCreated
            | VariantUpdated
            | VariantDeleted
            | InventoryStockChanged
    )
}

/// Marks every product of a vendor, in every store, for a rebuild of its document.
async fn mark_vendor(tx: &mut Tx, vendor: Option<uuid::Uuid>) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query(
        "INSERT INTO search_pending (tenant_id, store_id, product_id)
         SELECT $1, p.store_id, p.id FROM products p WHERE p.vendor_id = $2 AND p.deleted_at IS NULL
         ON CONFLICT (product_id) DO UPDATE SET queued_at = now()",
    )
    .bind(tenant)
    .bind(vendor)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks products of `store` for a rebuild of their documents (in the caller's transaction).
pub async fn mark(tx: &mut Tx, store: StoreId, products: &[ProductId]) -> Result<(), sqlx::Error> {
    if products.is_empty() {
        return Ok(());
    }
    let tenant = tx.tenant();
    sqlx::query(
        "INSERT INTO search_pending (tenant_id, store_id, product_id)
         SELECT $1, $2, p.id FROM products p WHERE p.id = ANY($3) AND p.store_id = $2
         ON CONFLICT (product_id) DO UPDATE SET queued_at = now()",
    )
    .bind(tenant)
    .bind(store)
    .bind(products)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Products rebuilt per round and tenant.
    pub batch: i64,
    /// How often to look for marks when nothing wakes the task.
    pub poll: Duration,
    /// After a round that found fewer than `batch` marks, how long to let marks gather before
    /// the next: events arriving one by one then cost an index commit per gathering, not one
    /// per product.
    pub gather: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings { batch: 500, poll: Duration::from_millis(500), gather: Duration::from_millis(200) }
    }
}

/// The sync task: runs rounds until `shutdown` fires.
pub async fn run(db: Db, search: Search, settings: SyncSettings, shutdown: CancellationToken) {
    if !search.backend().writable() {
        tracing::info!("search sync not started: this process does not write the index");
        return;
    }
    tracing::info!(backend = search.name(), "search sync started");
    while !shutdown.is_cancelled() {
        let done = match round(&db, &search, settings.batch).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "search sync round failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(settings.poll * 4) => {}
                    _ = shutdown.cancelled() => break,
                }
                0
            }
        };
        if done as i64 >= settings.batch {
            continue;
        }
        if done > 0 {
            tokio::select! {
                _ = tokio::time::sleep(settings.gather) => {}
                _ = shutdown.cancelled() => break,
            }
            continue;
        }
        tokio::select! {
            _ = search.wake.notified() => {}
            _ = tokio::time::sleep(settings.poll) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    tracing::info!("search sync stopped");
}

/// One round: for each tenant with marks (up to 100 tenants), up to `batch` products.
/// Returns how many products were applied.
pub async fn round(db: &Db, search: &Search, batch: i64) -> Result<usize, SearchError> {
    let tenants: Vec<TenantId> =
        sqlx::query_scalar("SELECT tenant_id FROM tenpo_search_pending_tenants(100)").fetch_all(db.platform()).await?;
    let mut done = 0;
    for tenant in tenants {
        done += apply_tenant(db, search, tenant, batch).await?;
    }
    Ok(done)
}

async fn apply_tenant(db: &Db, search: &Search, tenant: TenantId, batch: i64) -> Result<usize, SearchError> {
    let mut tx = db.begin(tenant).await?;
    let rows: Vec<(StoreId, ProductId)> = sqlx::query_as(
        "SELECT store_id, product_id FROM search_pending ORDER BY queued_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut by_store: BTreeMap<StoreId, Vec<ProductId>> = BTreeMap::new();
    for (s, p) in &rows {
        by_store.entry(*s).or_default().push(*p);
    }
    for (store, ids) in &by_store {
        apply(&mut tx, search, *store, ids).await?;
        record_sync(&mut tx, *store, search.name()).await?;
    }
    let ids: Vec<ProductId> = rows.iter().map(|(_, p)| *p).collect();
    sqlx::query("DELETE FROM search_pending WHERE product_id = ANY($1)").bind(&ids).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// Rebuilds the documents of `ids` from the database and writes or removes them.
pub async fn apply(tx: &mut Tx, search: &Search, store: StoreId, ids: &[ProductId]) -> Result<(), SearchError> {
    let changes = document::build(tx, store, ids).await?;
    search.backend().upsert(changes.upsert).await?;
    search.backend().delete(changes.delete).await?;
    Ok(())
}

/// Records when the store's documents were last brought up to date.
async fn record_sync(tx: &mut Tx, store: StoreId, backend: &str) -> Result<(), sqlx::Error> {
    let tenant = tx.tenant();
    sqlx::query(
        "INSERT INTO search_sync_state (tenant_id, store_id, backend, last_product_sync_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (tenant_id, (coalesce(store_id, '00000000-0000-0000-0000-000000000000'::uuid)), backend)
         DO UPDATE SET last_product_sync_at = now(), updated_at = now()",
    )
    .bind(tenant)
    .bind(store)
    .bind(backend)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
