//! Merging a duplicate customer into a survivor, in one transaction.
//!
//! Everything of the duplicate moves to the survivor: identities (source becomes `merge`),
//! profiles (combined where both have one in the same store, see [`Profile::combine`]),
//! addresses, and every row of other domains that names the customer (carts, orders, promotion
//! usages, inventory reservations and reservation requests). Older tombstones that pointed at
//! the duplicate are re-pointed at the survivor, and the duplicate stays as a tombstone (status
//! `merged`, `merged_into_id`, `deleted_at`), so old references resolve to the survivor.
//!
//! Both customer rows are locked FOR UPDATE in id order, after which their profiles; every
//! other writer of a customer's data locks the customer row FOR SHARE first
//! ([`crate::customer::lock_live`]), so none of their changes is lost: a write that waited for
//! the merge follows the tombstone to the survivor.
//!
//! A merge across tenants cannot happen: row-level security hides the other tenant's customer
//! (a 404), and the composite (tenant_id, customer_id) foreign keys would refuse the move.

use db::{Db, Tx};
use kernel::access::{Acting, Permission};
use kernel::{CustomerId, StoreId, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::CustomersError;
use crate::customer::{self, CustomerDetail, CustomerStatus};
use crate::profile::{self, Profile};

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeCustomers {
    /// The duplicate: merged into the customer of the path, then kept only as a tombstone.
    pub duplicate_id: CustomerId,
}

/// Tables of other domains whose `customer_id` a merge re-points. A test checks this list
/// against every table with a customer_id column.
pub const REFERENCING_TABLES: [&str; 5] =
    ["carts", "orders", "promotion_usages", "inventory_reservations", "inventory_reservation_requests"];

/// This domain's own tables with a customer_id, each handled by a merge (and erasure).
pub const OWN_TABLES: [&str; 6] = [
    "customer_profiles",
    "customer_identities",
    "customer_addresses",
    "customer_credentials",
    "customer_sessions",
    "customer_codes",
];

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct MergeCounts {
    pub identities: u64,
    /// Profiles moved to the survivor (stores where it had none).
    pub profiles_moved: u64,
    /// Profiles combined into the survivor's profile of the same store.
    pub profiles_combined: u64,
    pub addresses: u64,
    pub carts: u64,
    pub orders: u64,
    pub other_rows: u64,
}

/// Merges `input.duplicate_id` into `survivor`. Both must be customers of the caller's store.
/// Merging a tombstone into its own survivor again is a no-op that answers the survivor.
pub async fn merge_customers(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    survivor: CustomerId,
    input: MergeCustomers,
) -> Result<CustomerDetail, CustomersError> {
    by.require(Permission::CustomersMerge)?;
    if survivor == input.duplicate_id {
        return Err(CustomersError::CannotMergeSelf);
    }
    loop {
        // who they are now (either may be a tombstone already)
        let a = customer::find_live(tx, survivor).await?.ok_or(CustomersError::CustomerNotFound)?.id;
        let b = customer::find_live(tx, input.duplicate_id).await?.ok_or(CustomersError::CustomerNotFound)?.id;
        customer::live_in_store(tx, store, a, false).await?;
        if a == b {
            // already merged (a replay)
            return customer::detail(tx, store, a).await;
        }
        customer::live_in_store(tx, store, b, false).await?;
        if !both_live_locked(tx, a, b).await? {
            // merged or erased while we waited for the locks: look again
            continue;
        }
        let counts = move_everything(tx, a, b).await?;
        let event = crate::event::CustomerMerged { survivor_id: a, merged_id: b, counts, actor: by.actor() };
        events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
        return customer::detail(tx, store, a).await;
    }
}

/// Carries a merge done in one database (`here`, a [`Db::db_key`]) to every other database
/// that holds one of the tenant's stores, the control database (the identity map) first
/// (docs/ROUTING.md). In each, the customer behind `duplicate` (following tombstones) is merged
/// into `survivor` as [`merge_customers`] does, the survivor's row written there first if that
/// database never saw it. Each database is one transaction and a database where the duplicate
/// is absent or already merged is left alone, so repeating the merge finishes one that stopped
/// half-way (a database that did not answer is an error naming it; the merge is then repeated).
pub async fn spread(
    db: &Db,
    tenant: TenantId,
    here: &str,
    survivor: CustomerId,
    duplicate: CustomerId,
) -> Result<(), CustomersError> {
    for other in db.tenant_databases(tenant).await? {
        if other.db_key() == here {
            continue;
        }
        let mut tx = other.begin(tenant).await?;
        if merge_here(&mut tx, survivor, duplicate).await? {
            tracing::info!(db_key = %other.db_key(), survivor = %survivor, merged = %duplicate, "merge carried over");
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Locks both customers' rows (in id order, so two merges of one pair cannot deadlock) and says
/// whether both are still live: either may have been merged or erased while we waited.
async fn both_live_locked(tx: &mut Tx, a: CustomerId, b: CustomerId) -> Result<bool, sqlx::Error> {
    let (first, second) = if a < b { (a, b) } else { (b, a) };
    let locked: Vec<(CustomerId, CustomerStatus)> =
        sqlx::query_as("SELECT id, status FROM customers WHERE id IN ($1, $2) ORDER BY id FOR UPDATE")
            .bind(first)
            .bind(second)
            .fetch_all(&mut **tx)
            .await?;
    let live =
        |id| locked.iter().any(|(c, s)| *c == id && matches!(s, CustomerStatus::Active | CustomerStatus::Blocked));
    Ok(live(a) && live(b))
}

/// One database's part of [`spread`]: whether anything was merged there.
async fn merge_here(tx: &mut Tx, survivor: CustomerId, duplicate: CustomerId) -> Result<bool, CustomersError> {
    for _ in 0..8 {
        let Some(b) = customer::find_live(tx, duplicate).await? else { return Ok(false) };
        let a = match customer::find_live(tx, survivor).await? {
            Some(a) => a.id,
            None => {
                // this database never saw the survivor: its row, under the same id
                sqlx::query("INSERT INTO customers (id, tenant_id) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                    .bind(survivor)
                    .bind(tx.tenant())
                    .execute(&mut **tx)
                    .await?;
                survivor
            }
        };
        if a == b.id {
            return Ok(false);
        }
        if !both_live_locked(tx, a, b.id).await? {
            continue;
        }
        move_everything(tx, a, b.id).await?;
        return Ok(true);
    }
    Err(CustomersError::Db(sqlx::Error::Protocol("merge did not settle".into())))
}

async fn move_everything(tx: &mut Tx, a: CustomerId, b: CustomerId) -> Result<MergeCounts, sqlx::Error> {
    let identities =
        sqlx::query("UPDATE customer_identities SET customer_id = $1, source = 'merge' WHERE customer_id = $2")
            .bind(a)
            .bind(b)
            .execute(&mut **tx)
            .await?
            .rows_affected();
    let mut counts = MergeCounts { identities, ..Default::default() };

    // profiles: lock both customers' profiles (in id order), combine where a store has both
    let profiles: Vec<Profile> = sqlx::query_as(&format!(
        "SELECT {} FROM customer_profiles WHERE customer_id IN ($1, $2) ORDER BY id FOR UPDATE",
        profile::COLUMNS
    ))
    .bind(a)
    .bind(b)
    .fetch_all(&mut **tx)
    .await?;
    for dup in profiles.iter().filter(|p| p.customer_id == b) {
        if let Some(mine) = profiles.iter().find(|p| p.customer_id == a && p.store_id == dup.store_id) {
            let mut combined = mine.clone();
            combined.combine(dup);
            sqlx::query("DELETE FROM customer_profiles WHERE id = $1").bind(dup.id).execute(&mut **tx).await?;
            profile::save(tx, &combined, true).await?;
            counts.profiles_combined += 1;
        }
    }
    counts.profiles_moved = sqlx::query("UPDATE customer_profiles SET customer_id = $1 WHERE customer_id = $2")
        .bind(a)
        .bind(b)
        .execute(&mut **tx)
        .await?
        .rows_affected();

    crate::account::merge(tx, a, b).await?;

    // addresses: the survivor keeps its default of each type
    counts.addresses = sqlx::query(
        "UPDATE customer_addresses d SET customer_id = $1,
                is_default = d.is_default AND NOT EXISTS (
                  SELECT 1 FROM customer_addresses s WHERE s.customer_id = $1 AND s.type = d.type AND s.is_default)
          WHERE d.customer_id = $2",
    )
    .bind(a)
    .bind(b)
    .execute(&mut **tx)
    .await?
    .rows_affected();

    for table in REFERENCING_TABLES {
        let n = sqlx::query(&format!("UPDATE {table} SET customer_id = $1 WHERE customer_id = $2"))
            .bind(a)
            .bind(b)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        match table {
            "carts" => counts.carts = n,
            "orders" => counts.orders = n,
            _ => counts.other_rows += n,
        }
    }

    // older tombstones follow to the new survivor, so every lookup stays one hop
    sqlx::query("UPDATE customers SET merged_into_id = $1 WHERE merged_into_id = $2")
        .bind(a)
        .bind(b)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE customers SET status = 'merged', merged_into_id = $1, deleted_at = now() WHERE id = $2")
        .bind(a)
        .bind(b)
        .execute(&mut **tx)
        .await?;
    Ok(counts)
}
