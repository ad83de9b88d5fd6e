//! **Status** follows from the payment and the shipments by one rule ([`derive_status`]):
//!
//! | payment \ shipments | none shipped | some shipped | all shipped | all delivered | no shipments (digital) |
//! |---|---|---|---|---|---|
//! | bank transfer pending | pending_payment | – | – | – | pending_payment |
//! | COD pending | processing | partially_shipped | shipped | delivered | – |
//! | confirmed | processing | partially_shipped | shipped | completed | completed |
//!
//! and `canceled` once canceled. Shipments move `pending -> shipped -> delivered`, or
//! `pending -> canceled`; a bank-transfer order ships only once paid. Every change is written
//! to the order's history ([`record_history`]).

use db::Tx;
use kernel::OrderId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Processing,
    PartiallyShipped,
    Shipped,
    Delivered,
    Completed,
    Canceled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Processing => "processing",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Completed => "completed",
            OrderStatus::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PaymentMethod {
    /// 銀行振込: the shopper transfers; staff confirm the amount received.
    BankTransfer,
    /// 代金引換: the carrier collects on delivery.
    Cod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Confirmed,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ShipmentStatus {
    Pending,
    Shipped,
    Delivered,
    Canceled,
}

/// The order status that the payment and shipments imply (module docs).
pub fn derive_status(
    method: PaymentMethod,
    payment: PaymentStatus,
    shipments: &[ShipmentStatus],
    canceled: bool,
) -> OrderStatus {
    use ShipmentStatus::*;
    if canceled {
        return OrderStatus::Canceled;
    }
    let paid = payment == PaymentStatus::Confirmed;
    if method == PaymentMethod::BankTransfer && !paid {
        return OrderStatus::PendingPayment;
    }
    let live: Vec<ShipmentStatus> = shipments.iter().copied().filter(|s| *s != Canceled).collect();
    if live.is_empty() {
        return if paid { OrderStatus::Completed } else { OrderStatus::Processing };
    }
    let delivered = live.iter().filter(|s| **s == Delivered).count();
    let shipped = live.iter().filter(|s| **s == Shipped).count();
    if delivered == live.len() {
        return if paid { OrderStatus::Completed } else { OrderStatus::Delivered };
    }
    if shipped + delivered == live.len() {
        return OrderStatus::Shipped;
    }
    if shipped + delivered > 0 {
        return OrderStatus::PartiallyShipped;
    }
    OrderStatus::Processing
}

/// Writes one change of an order's status into its history.
pub(crate) async fn record_history(
    tx: &mut Tx,
    order: OrderId,
    from: Option<OrderStatus>,
    to: OrderStatus,
    actor: kernel::access::Actor,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_status_history (tenant_id, order_id, from_status, to_status, actor_type, actor_id, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx.tenant())
    .bind(order)
    .bind(from.map(OrderStatus::as_str))
    .bind(to.as_str())
    .bind(actor.kind())
    .bind(actor.id())
    .bind(note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus as O;
    use PaymentMethod::*;
    use PaymentStatus::*;
    use ShipmentStatus as S;

    #[test]
    fn status_follows_payment_and_shipments() {
        assert_eq!(derive_status(BankTransfer, Pending, &[S::Pending], false), O::PendingPayment);
        assert_eq!(derive_status(BankTransfer, Confirmed, &[S::Pending], false), O::Processing);
        assert_eq!(derive_status(BankTransfer, Confirmed, &[S::Shipped, S::Pending], false), O::PartiallyShipped);
        assert_eq!(derive_status(BankTransfer, Confirmed, &[S::Shipped, S::Delivered], false), O::Shipped);
        assert_eq!(derive_status(BankTransfer, Confirmed, &[S::Delivered, S::Delivered], false), O::Completed);
        assert_eq!(derive_status(Cod, Pending, &[S::Pending], false), O::Processing);
        assert_eq!(derive_status(Cod, Pending, &[S::Delivered], false), O::Delivered);
        assert_eq!(derive_status(Cod, Confirmed, &[S::Delivered], false), O::Completed);
        assert_eq!(derive_status(BankTransfer, Confirmed, &[], false), O::Completed, "digital goods, paid");
        assert_eq!(derive_status(BankTransfer, Pending, &[], false), O::PendingPayment);
        assert_eq!(
            derive_status(Cod, Confirmed, &[S::Canceled, S::Delivered], false),
            O::Completed,
            "canceled shipments do not count"
        );
        assert_eq!(derive_status(BankTransfer, Confirmed, &[S::Delivered], true), O::Canceled);
    }
}
