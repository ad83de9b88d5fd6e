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
//! Orders still in progress (awaiting payment or shipment) block erasure: shipping needs the
//! address.

use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{CustomerId, StoreId};

use crate::CustomersError;
use crate::customer::{self, CustomerStatus};

/// Order statuses that still need the customer's contact details.
const OPEN_ORDER_STATUSES: [&str; 4] = ["pending_payment", "processing", "partially_shipped", "shipped"];

pub const ERASED: &str = "(erased)";

pub async fn erase_customer(tx: &mut Tx, store: StoreId, by: Acting<'_>, id: CustomerId) -> Result<(), CustomersError> {
    by.require(Permission::CustomersErase)?;
    let live = loop {
        let live = customer::live_in_store(tx, store, id, false).await?;
        let status: Option<CustomerStatus> =
            sqlx::query_scalar("SELECT status FROM customers WHERE id = $1 FOR UPDATE")
                .bind(live)
                .fetch_optional(&mut **tx)
                .await?;
        match status {
            Some(CustomerStatus::Active | CustomerStatus::Blocked) => break live,
            // merged meanwhile: erase the survivor; erased meanwhile: 404 on the next round
            _ => continue,
        }
    };
    // this customer and the tombstones merged into it
    let ids: Vec<CustomerId> = sqlx::query_scalar("SELECT id FROM customers WHERE id = $1 OR merged_into_id = $1")
        .bind(live)
        .fetch_all(&mut **tx)
        .await?;
    let open: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orders WHERE customer_id = ANY($1) AND status = ANY($2))")
            .bind(&ids)
            .bind(&OPEN_ORDER_STATUSES[..])
            .fetch_one(&mut **tx)
            .await?;
    if open {
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
    sqlx::query("UPDATE customers SET status = 'erased', deleted_at = now() WHERE id = $1")
        .bind(live)
        .execute(&mut **tx)
        .await?;
    let event = crate::event::CustomerErased { customer_id: live, actor: by.actor() };
    events::record(tx, events::NewEvent::of(&event).in_store(store)).await?;
    Ok(())
}
