//! Store sync: where a store turns customer sync on, a change to a profile there reaches the
//! same customer's profiles in the tenant's other synced stores, through the outbox.
//!
//! * Trigger: `customer.profile_created`, `customer.profile_updated` (one customer) and
//!   `customer.imported` (a batch) events of a store. The consumer [`StoreSync`] runs in the
//!   relay's tenant transaction, which also records the event in processed_events: a
//!   redelivered event changes nothing twice.
//! * Who is written: profiles of the same (surviving) customer in other stores whose
//!   `customer_sync_enabled` is on when the event is delivered, and only if the source store's
//!   is on too. A store with sync off is never written.
//! * What: name, name_kana, email, phone and preferences (per key). Notes and status are the
//!   store's own and never sync.
//! * Conflicts: last writer wins per field. Each field carries the (time, store) stamp of the
//!   edit that wrote it; a value replaces another only if its stamp is later, so stale or
//!   out-of-order deliveries change nothing, and all synced stores converge.
//! * No ping-pong: a profile written by sync records `customer.profile_synced`, which the
//!   consumer does not take up.
//! * Across databases (docs/ROUTING.md): the synced stores of the source's own database are
//!   written in the relay's transaction; each synced store on another database is written in a
//!   transaction of its own, opened through that store's route ([`Db::store`]). A store there
//!   that does not answer or is frozen by a move fails the delivery, which the relay retries;
//!   the stamps make the stores already written take the retry as a no-op.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use db::{Db, Tx};
use events::{Consumer, ConsumerError, Event, EventType};
use kernel::access::{Acting, Permission};
use kernel::{CustomerId, StoreId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CustomersError;
use crate::customer::CustomerStatus;
use crate::event::{CustomerImported, CustomerProfileCreated, CustomerProfileUpdated};
use crate::profile::{self, Profile};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct SyncSetting {
    pub store_id: StoreId,
    /// Profile changes in this store reach the tenant's other synced stores, and theirs reach
    /// this one.
    pub customer_sync_enabled: bool,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSyncSetting {
    pub customer_sync_enabled: bool,
}

pub async fn get_sync_setting(tx: &mut Tx, store: StoreId, by: Acting<'_>) -> Result<SyncSetting, CustomersError> {
    by.require(Permission::CustomersRead)?;
    Ok(sqlx::query_as(
        "SELECT s.id AS store_id, coalesce(ss.customer_sync_enabled, false) AS customer_sync_enabled,
                coalesce(ss.updated_at, s.created_at) AS updated_at
           FROM stores s LEFT JOIN store_sync_settings ss ON ss.store_id = s.id WHERE s.id = $1",
    )
    .bind(store)
    .fetch_one(&mut **tx)
    .await?)
}

/// Turns customer sync on or off for the store (a store setting: `store_manage`). Turning it
/// on copies nothing by itself: the next change of a profile in any synced store carries its
/// stamped fields, and later stamps win.
pub async fn set_sync_setting(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    input: UpdateSyncSetting,
) -> Result<SyncSetting, CustomersError> {
    by.require(Permission::StoreManage)?;
    ensure_row(tx, store).await?;
    let setting: SyncSetting = sqlx::query_as(
        "UPDATE store_sync_settings SET customer_sync_enabled = $2 WHERE store_id = $1
         RETURNING store_id, customer_sync_enabled, updated_at",
    )
    .bind(store)
    .bind(input.customer_sync_enabled)
    .fetch_one(&mut **tx)
    .await?;
    let event = crate::event::StoreCustomerSyncUpdated {
        store_id: store,
        customer_sync_enabled: setting.customer_sync_enabled,
        actor: by.actor(),
    };
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    Ok(setting)
}

/// Stores get their row when created; this covers stores made before that.
async fn ensure_row(tx: &mut Tx, store: StoreId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO store_sync_settings (store_id, tenant_id) SELECT id, tenant_id FROM stores WHERE id = $1
         ON CONFLICT DO NOTHING",
    )
    .bind(store)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn sync_enabled(tx: &mut Tx, store: StoreId) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar("SELECT customer_sync_enabled FROM store_sync_settings WHERE store_id = $1")
        .bind(store)
        .fetch_optional(&mut **tx)
        .await?
        .unwrap_or(false))
}

/// The outbox consumer of store sync (registered in the worker). It holds the process's
/// database handle to reach the tenant's stores on other databases.
pub struct StoreSync {
    db: Db,
}

impl StoreSync {
    pub fn new(db: Db) -> Self {
        StoreSync { db }
    }
}

pub const CONSUMER: &str = "customers.store_sync";

#[async_trait]
impl Consumer for StoreSync {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn wants(&self, event: &Event) -> bool {
        event.store_id.is_some()
            && matches!(
                event.kind(),
                Some(
                    EventType::CustomerProfileCreated | EventType::CustomerProfileUpdated | EventType::CustomerImported
                )
            )
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), ConsumerError> {
        let Some(source) = event.store_id else { return Ok(()) };
        let customers: Vec<CustomerId> = match event.kind() {
            Some(EventType::CustomerImported) => event.data::<CustomerImported>()?.customer_ids,
            Some(EventType::CustomerProfileCreated) => vec![event.data::<CustomerProfileCreated>()?.0.customer_id],
            _ => vec![event.data::<CustomerProfileUpdated>()?.0.customer_id],
        };
        sync_customers(tx, source, &customers).await?;
        sync_other_databases(&self.db, tx, source, &customers).await?;
        Ok(())
    }
}

/// Carries the source store's profiles of these customers to their profiles in the other
/// synced stores of the same database. Returns how many profiles changed.
pub async fn sync_customers(tx: &mut Tx, source: StoreId, customers: &[CustomerId]) -> Result<u64, sqlx::Error> {
    let sources = source_profiles(tx, source, customers).await?;
    if sources.is_empty() {
        return Ok(0);
    }
    let with_source: Vec<CustomerId> = sources.iter().map(|p| p.customer_id).collect();
    let targets: Vec<Profile> = sqlx::query_as(&format!(
        "SELECT {} FROM customer_profiles p
          WHERE p.customer_id = ANY($1) AND p.store_id <> $2
            AND p.store_id IN (SELECT store_id FROM store_sync_settings WHERE customer_sync_enabled)
          ORDER BY p.store_id, p.customer_id FOR UPDATE",
        profile::COLUMNS.split(", ").map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ")
    ))
    .bind(&with_source)
    .bind(source)
    .fetch_all(&mut **tx)
    .await?;
    absorb_into(tx, source, &sources, targets).await
}

/// Carries the source store's profiles of these customers to the tenant's synced stores on the
/// other databases, one transaction per store, opened through its route. Returns how many
/// profiles changed.
pub async fn sync_other_databases(
    db: &Db,
    tx: &mut Tx,
    source: StoreId,
    customers: &[CustomerId],
) -> Result<u64, CustomersError> {
    let tenant = tx.tenant();
    let control = db.control();
    // the tenant's stores and their databases; the source's database was written above
    let mut ctl = control.begin(tenant).await?;
    let stores: Vec<(StoreId, String)> = sqlx::query_as(
        "SELECT s.id, coalesce(r.db_key, 'main') FROM stores s LEFT JOIN store_db_routing r ON r.store_id = s.id
          ORDER BY s.id",
    )
    .fetch_all(&mut *ctl)
    .await?;
    ctl.commit().await?;
    let Some(here) = stores.iter().find(|(s, _)| *s == source).map(|(_, k)| k.clone()) else { return Ok(0) };
    let elsewhere: Vec<StoreId> = stores.into_iter().filter(|(_, k)| *k != here).map(|(s, _)| s).collect();
    if elsewhere.is_empty() {
        return Ok(0);
    }
    let sources = source_profiles(tx, source, customers).await?;
    if sources.is_empty() {
        return Ok(0);
    }
    let with_source: Vec<CustomerId> = sources.iter().map(|p| p.customer_id).collect();
    let mut changed = 0;
    for store in elsewhere {
        let handle = db.store(store).await?;
        // a store frozen by its move takes the write after its switch (the relay retries)
        handle.writable()?;
        let mut there = handle.begin(tenant).await?;
        if !sync_enabled(&mut there, store).await? {
            there.rollback().await?;
            continue;
        }
        let targets: Vec<Profile> = sqlx::query_as(&format!(
            "SELECT {} FROM customer_profiles WHERE store_id = $1 AND customer_id = ANY($2)
              ORDER BY customer_id FOR UPDATE",
            profile::COLUMNS
        ))
        .bind(store)
        .bind(&with_source)
        .fetch_all(&mut *there)
        .await?;
        changed += absorb_into(&mut there, source, &sources, targets).await?;
        there.commit().await?;
    }
    Ok(changed)
}

/// The source store's profiles of the live customers behind `customers` (tombstones lead to
/// survivors, erased ones drop out), when the source store syncs; none otherwise.
async fn source_profiles(tx: &mut Tx, source: StoreId, customers: &[CustomerId]) -> Result<Vec<Profile>, sqlx::Error> {
    if customers.is_empty() || !sync_enabled(tx, source).await? {
        return Ok(Vec::new());
    }
    // the rows are locked FOR SHARE (in id order) as every profile writer does, so a merge waits.
    let rows: Vec<(CustomerId, CustomerStatus, Option<CustomerId>)> = sqlx::query_as(
        "SELECT id, status, merged_into_id FROM customers WHERE id = ANY($1) OR id IN (
           SELECT merged_into_id FROM customers WHERE id = ANY($1)) ORDER BY id FOR SHARE",
    )
    .bind(customers)
    .fetch_all(&mut **tx)
    .await?;
    let mut live: Vec<CustomerId> = rows
        .iter()
        .filter_map(|(id, status, into)| match status {
            CustomerStatus::Active | CustomerStatus::Blocked => Some(*id),
            CustomerStatus::Merged => *into,
            CustomerStatus::Erased => None,
        })
        .filter(|id| {
            rows.iter().any(|(r, s, _)| r == id && matches!(s, CustomerStatus::Active | CustomerStatus::Blocked))
        })
        .collect();
    live.sort();
    live.dedup();
    if live.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(&format!(
        "SELECT {} FROM customer_profiles WHERE store_id = $1 AND customer_id = ANY($2)",
        profile::COLUMNS
    ))
    .bind(source)
    .bind(&live)
    .fetch_all(&mut **tx)
    .await
}

/// Each target profile takes the source's fields with later stamps (last writer wins); a
/// changed one records `customer.profile_synced` in its store. Returns how many changed.
async fn absorb_into(
    tx: &mut Tx,
    source: StoreId,
    sources: &[Profile],
    targets: Vec<Profile>,
) -> Result<u64, sqlx::Error> {
    let mut changed_profiles = 0;
    for mut target in targets {
        let Some(from) = sources.iter().find(|s| s.customer_id == target.customer_id) else { continue };
        let (changed, moved) = target.absorb(from);
        if !moved {
            continue;
        }
        let bump = !changed.is_empty();
        let saved = profile::save(tx, &target, bump).await?;
        if bump {
            changed_profiles += 1;
            let event = crate::event::CustomerProfileSynced {
                change: crate::event::ProfileChange::new(&saved, &changed),
                from_store_id: source,
            };
            events::record(tx, events::NewEvent::of(&event).in_store(saved.store_id)).await?;
        }
    }
    Ok(changed_profiles)
}
