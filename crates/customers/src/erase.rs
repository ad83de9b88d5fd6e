//! Erasure: deleting a customer removes their personal data, tenant-wide, and keeps what the
//! shop must keep (docs/CUSTOMERS.md, "Erasure").
//!
//! * identities: deleted (the email or phone can later resolve to a new customer);
//! * saved addresses: deleted;
//! * profiles (every store): name, kana, email, phone, notes and preferences blanked; the rows
//!   stay so per-store history ("this store had a customer") still adds up;
//! * orders: kept with their amounts, items, tax lines, payments and shipments; the contact
//!   email is blanked and the order addresses keep only what the shipping fee was computed
//!   from (postal code and prefecture); names, street lines and phone numbers are replaced;
//! * carts and promotion usages: their email is cleared;
//! * the customer row stays as a tombstone (status `erased`, `deleted_at`), so order records
//!   keep a valid customer_id.
//!
//! * what other domains keep of the person (the receipts' addressee, checkout's) is erased by
//!   their own function, passed in as [`AlsoErase`], in the same transaction.
//!
//! Orders still in progress (awaiting payment or shipment) block erasure: shipping needs the
//! address.
//!
//! Across databases (docs/ROUTING.md): the erasure is done in the caller's store database, then
//! in every other database that holds one of the tenant's stores (the control database, with the
//! identity map, first), one transaction each, as a merge spreads. Open orders are looked for in
//! every database before anything changes. A database where the customer is absent or erased
//! already is left alone, so repeating the erasure (`DELETE` again, 204) finishes one that stopped
//! half-way; a database that does not answer fails it with 503 `store_database_unavailable`.

use async_trait::async_trait;
use db::{Db, Tx};
use kernel::access::{Acting, Permission};
use kernel::{CustomerId, StoreId, TenantId};

use crate::CustomersError;
use crate::customer::{self, CustomerStatus};

/// Order statuses that still need the customer's contact details.
const OPEN_ORDER_STATUSES: [&str; 4] = ["pending_payment", "processing", "partially_shipped", "shipped"];

pub const ERASED: &str = "(erased)";

/// What another domain keeps of a customer and erases with them, in the erasure's transaction of
/// each database (the composition root passes checkout's receipts).
#[async_trait]
pub trait AlsoErase: Sync {
    /// Erases what the domain keeps of these customers (the erased one and its tombstones).
    async fn erase(&self, tx: &mut Tx, customers: &[CustomerId]) -> Result<(), sqlx::Error>;
}

/// Nothing else to erase (tests, tools).
pub struct NothingElse;

#[async_trait]
impl AlsoErase for NothingElse {
    async fn erase(&self, _: &mut Tx, _: &[CustomerId]) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

/// Erases the customer `id` of the caller's store in every database of the tenant.
pub async fn erase_customer(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    by: Acting<'_>,
    id: CustomerId,
    also: &dyn AlsoErase,
) -> Result<(), CustomersError> {
    by.require(Permission::CustomersErase)?;
    // every database answers before anything changes (a 503 otherwise)
    let everywhere = db.tenant_databases(tenant).await?;
    let here = db.store(store).await?;
    let here_key = here.db_key().to_string();
    let mut tx = match everywhere.iter().find(|d| d.db_key() == here_key) {
        // frozen when another of the tenant's stores in this database is moving
        Some(d) if d.is_frozen() => d.begin(tenant).await?,
        _ => here.begin(tenant).await?,
    };
    let (live, erased_already) = match locked_live(&mut tx, store, id).await {
        Ok(live) => (live, false),
        // erased here by an erasure that stopped half-way: finish it in the other databases
        Err(CustomersError::CustomerNotFound) => (erased_in_store(&mut tx, store, id).await?, true),
        Err(e) => return Err(e),
    };
    for other in everywhere.iter().filter(|d| d.db_key() != here_key) {
        let mut there = other.begin(tenant).await?;
        let ids = merged_into(&mut there, live).await?;
        let open = has_open_orders(&mut there, &ids).await?;
        there.rollback().await?;
        if open {
            return Err(CustomersError::HasOpenOrders);
        }
    }
    if !erased_already {
        erase_here(&mut tx, live, also).await?;
        let event = crate::event::CustomerErased { customer_id: live, actor: by.actor() };
        events::record(&mut tx, events::NewEvent::of(&event).in_store(store)).await?;
    }
    tx.commit().await?;
    for other in everywhere.iter().filter(|d| d.db_key() != here_key) {
        let mut there = other.begin(tenant).await?;
        let status: Option<CustomerStatus> =
            sqlx::query_scalar("SELECT status FROM customers WHERE id = $1 FOR UPDATE")
                .bind(live)
                .fetch_optional(&mut *there)
                .await?;
        if matches!(status, Some(CustomerStatus::Active | CustomerStatus::Blocked)) {
            erase_here(&mut there, live, also).await?;
            tracing::info!(db_key = %other.db_key(), customer = %live, "erasure carried over");
        }
        there.commit().await?;
    }
    Ok(())
}

/// The live customer behind `id` with a profile in the store, its row locked.
async fn locked_live(tx: &mut Tx, store: StoreId, id: CustomerId) -> Result<CustomerId, CustomersError> {
    loop {
        let live = customer::live_in_store(tx, store, id, false).await?;
        let status: Option<CustomerStatus> =
            sqlx::query_scalar("SELECT status FROM customers WHERE id = $1 FOR UPDATE")
                .bind(live)
                .fetch_optional(&mut **tx)
                .await?;
        match status {
            Some(CustomerStatus::Active | CustomerStatus::Blocked) => return Ok(live),
            // merged meanwhile: erase the survivor; erased meanwhile: 404 on the next round
            _ => continue,
        }
    }
}

/// The erased customer behind `id` (itself or the survivor it was merged into), provided the
/// store has a profile of it; 404 otherwise.
async fn erased_in_store(tx: &mut Tx, store: StoreId, id: CustomerId) -> Result<CustomerId, CustomersError> {
    let erased: Option<CustomerId> = sqlx::query_scalar(
        "SELECT c.id FROM customers c
          WHERE c.status = 'erased'
            AND (c.id = $1 OR c.id = (SELECT merged_into_id FROM customers WHERE id = $1 AND status = 'merged'))
            AND EXISTS (SELECT 1 FROM customer_profiles p WHERE p.store_id = $2 AND p.customer_id = c.id)",
    )
    .bind(id)
    .bind(store)
    .fetch_optional(&mut **tx)
    .await?;
    erased.ok_or(CustomersError::CustomerNotFound)
}

/// This customer and the tombstones merged into it, in this database.
async fn merged_into(tx: &mut Tx, live: CustomerId) -> Result<Vec<CustomerId>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM customers WHERE id = $1 OR merged_into_id = $1")
        .bind(live)
        .fetch_all(&mut **tx)
        .await
}

async fn has_open_orders(tx: &mut Tx, ids: &[CustomerId]) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orders WHERE customer_id = ANY($1) AND status = ANY($2))")
        .bind(ids)
        .bind(&OPEN_ORDER_STATUSES[..])
        .fetch_one(&mut **tx)
        .await
}

/// One database's erasure of the (locked, live) customer and its tombstones.
async fn erase_here(tx: &mut Tx, live: CustomerId, also: &dyn AlsoErase) -> Result<(), CustomersError> {
    let ids = merged_into(tx, live).await?;
    if has_open_orders(tx, &ids).await? {
        return Err(CustomersError::HasOpenOrders);
    }
    sqlx::query("DELETE FROM customer_identities WHERE customer_id = ANY($1)").bind(&ids).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM customer_addresses WHERE customer_id = ANY($1)").bind(&ids).execute(&mut **tx).await?;
    crate::account::erase(tx, &ids).await?;
    sqlx::query(
        "UPDATE customer_profiles SET name = '', name_kana = '', email = NULL, phone = NULL, notes = NULL,
                preferences = '{}', field_clock = '{}', version = version + 1
          WHERE customer_id = ANY($1)",
    )
    .bind(&ids)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE orders SET email = '' WHERE customer_id = ANY($1)").bind(&ids).execute(&mut **tx).await?;
    sqlx::query(
        "UPDATE order_addresses a SET name = $2, name_kana = '', city = $2, line1 = $2, line2 = NULL, phone = NULL
           FROM orders o WHERE o.id = a.order_id AND o.customer_id = ANY($1)",
    )
    .bind(&ids)
    .bind(ERASED)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE carts SET email = NULL WHERE customer_id = ANY($1)").bind(&ids).execute(&mut **tx).await?;
    sqlx::query("UPDATE promotion_usages SET email = NULL WHERE customer_id = ANY($1)")
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
    also.erase(tx, &ids).await?;
    sqlx::query("UPDATE customers SET status = 'erased', deleted_at = now() WHERE id = $1")
        .bind(live)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
