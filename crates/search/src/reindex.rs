//! `tenpo search reindex`: rebuilds a store's documents from the database.
//!
//! The walk goes through the store's products (deleted ones included, so their documents go)
//! in id order, a batch per transaction, and records the last id done in `search_sync_state`
//! (`last_product_id`) in the same transaction as the batch. A reindex whose
//! `reindex_started_at` is set and `reindex_finished_at` is not was interrupted: the next run
//! resumes after `last_product_id`. When the walk ends, documents of the store that were not
//! rewritten since the reindex started are removed, and `reindex_finished_at` is set.
//!
//! Changes made while a reindex runs reach the index through the outbox as usual; the walk
//! always writes the current state, so the two cannot undo each other.
//!
//! In a process that cannot write the embedded index (a running worker holds it), the walk
//! marks each batch in `search_pending` instead, and that worker applies them.

use chrono::{DateTime, Utc};
use db::Db;
use kernel::{ProductId, StoreId, TenantId};

use crate::{Search, SearchError, sync};

#[derive(Debug, Clone)]
pub struct ReindexOptions {
    /// Products per batch (and per transaction).
    pub batch: i64,
    /// Stop after this many batches, leaving the reindex to be resumed (for tests and for
    /// spreading a large reindex over time).
    pub max_batches: Option<usize>,
}

impl Default for ReindexOptions {
    fn default() -> Self {
        ReindexOptions { batch: 500, max_batches: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReindexReport {
    pub store_id: StoreId,
    /// Products of the store (deleted ones included).
    pub total: u64,
    /// Products walked before this run (a resumed reindex).
    pub resumed_after: u64,
    /// Products walked by this run.
    pub walked: u64,
    /// The walk reached the end.
    pub finished: bool,
    /// Batches were handed to the worker that writes the index rather than written here.
    pub queued: bool,
}

/// A store's row of search_sync_state: cursor, started, finished.
type SyncState = (Option<ProductId>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Reindexes one store; `progress(done, total)` after each batch.
pub async fn reindex_store(
    db: &Db,
    search: &Search,
    tenant: TenantId,
    store: StoreId,
    opts: &ReindexOptions,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<ReindexReport, SearchError> {
    let backend = search.name();
    let mut tx = db.begin(tenant).await?;
    let state: Option<SyncState> = sqlx::query_as(
        "SELECT last_product_id, reindex_started_at, reindex_finished_at FROM search_sync_state
          WHERE tenant_id = $1 AND store_id = $2 AND backend = $3",
    )
    .bind(tenant)
    .bind(store)
    .bind(backend)
    .fetch_optional(&mut *tx)
    .await?;
    let (mut cursor, started_at) = match state {
        Some((last, Some(started), None)) => (last, started),
        _ => {
            // the application's clock, like the documents' indexed_at it is compared with
            let now = Utc::now();
            sqlx::query(
                "INSERT INTO search_sync_state (tenant_id, store_id, backend, reindex_started_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tenant_id, (coalesce(store_id, '00000000-0000-0000-0000-000000000000'::uuid)), backend)
                 DO UPDATE SET reindex_started_at = $4, reindex_finished_at = NULL, last_product_id = NULL, updated_at = now()",
            )
            .bind(tenant)
            .bind(store)
            .bind(backend)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            (None, now)
        }
    };
    let (total, before): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE $2::uuid IS NOT NULL AND id <= $2) FROM products WHERE store_id = $1",
    )
    .bind(store)
    .bind(cursor)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let (total, before) = (total as u64, before as u64);
    let writable = search.backend().writable();
    let mut report =
        ReindexReport { store_id: store, total, resumed_after: before, walked: 0, finished: false, queued: !writable };
    progress(before, total);
    let mut batches = 0;
    loop {
        if opts.max_batches.is_some_and(|m| batches >= m) {
            return Ok(report);
        }
        let mut tx = db.begin(tenant).await?;
        let ids: Vec<ProductId> = sqlx::query_scalar(
            "SELECT id FROM products WHERE store_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
        )
        .bind(store)
        .bind(cursor)
        .bind(opts.batch)
        .fetch_all(&mut *tx)
        .await?;
        let Some(last) = ids.last().copied() else { break };
        if writable {
            sync::apply(&mut tx, search, store, &ids).await?;
        } else {
            sync::mark(&mut tx, store, &ids).await?;
        }
        sqlx::query(
            "UPDATE search_sync_state SET last_product_id = $4, last_product_sync_at = now(), updated_at = now()
              WHERE tenant_id = $1 AND store_id = $2 AND backend = $3",
        )
        .bind(tenant)
        .bind(store)
        .bind(backend)
        .bind(last)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        cursor = Some(last);
        batches += 1;
        report.walked += ids.len() as u64;
        progress(before + report.walked, total);
    }
    if writable {
        search.backend().delete_stale(tenant, store, started_at).await?;
    }
    let mut tx = db.begin(tenant).await?;
    sqlx::query(
        "UPDATE search_sync_state SET reindex_finished_at = now(), updated_at = now()
          WHERE tenant_id = $1 AND store_id = $2 AND backend = $3",
    )
    .bind(tenant)
    .bind(store)
    .bind(backend)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    report.finished = true;
    Ok(report)
}
