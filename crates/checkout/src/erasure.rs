//! Checkout's part of a customer's erasure (`customers::erase`, docs/CUSTOMERS.md): what checkout
//! keeps of the person besides the order rows, erased in the erasure's transaction of each
//! database: the receipts' addressee and the stored checkout answers of their orders.

use db::Tx;
use kernel::CustomerId;

use crate::{documents, idempotency};

/// Passed to `customers::erase::erase_customer` by the composition root.
pub struct CheckoutErasure;

#[async_trait::async_trait]
impl customers::erase::AlsoErase for CheckoutErasure {
    async fn erase(&self, tx: &mut Tx, customers: &[CustomerId]) -> Result<(), sqlx::Error> {
        documents::erase_addressees(tx, customers).await?;
        idempotency::forget_checkouts_of(tx, customers).await?;
        Ok(())
    }
}
