//! The order mails (docs/EMAIL.md), sent from the outbox: an [`events::Consumer`] that, in the
//! relay's transaction, reads the order as the shopper sees it ([`crate::order::view`]) and
//! records the message with [`mail::send`], keyed by the event id. The message and the
//! processed_events row commit together, and the send log refuses a second message with the
//! same key besides, so an event delivered again mails nothing more.
//!
//! * `order.placed`: the order confirmation (注文確認); a bank-transfer order also gets the
//!   instructions (the store's account, the amount and the due date). COD gets the
//!   confirmation only.
//! * `payment.confirmed` of a bank transfer: payment received. (Cash on delivery is paid at
//!   the door; the shopper needs no mail for it.)
//! * `shipment.shipped`: shipped, with the carrier, the tracking number and what it carries.

use async_trait::async_trait;
use catalog::variant::FulfillmentType;
use db::Tx;
use events::{Consumer, ConsumerError, Event, EventType};
use kernel::StoreId;
use mail::templates::{
    BankAccount, BankTransferInstructions, Line, OrderConfirmation, OrderSummary, PaymentReceived, Shipped,
};
use mail::{Outgoing, Template};

use crate::event::{OrderPlaced, PaymentConfirmed, ShipmentShipped};
use crate::order::{OrderView, PaymentMethod, view};

pub const CONSUMER: &str = "checkout.mails";

pub struct OrderMails;

/// The name to address the shopper by: the shipping address's, else the billing address's.
pub fn customer_name(o: &OrderView) -> Option<String> {
    o.shipping_address.as_ref().or(o.billing_address.as_ref()).map(|a| a.name.clone())
}

fn method_name(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::BankTransfer => "bank_transfer",
        PaymentMethod::Cod => "cod",
    }
}

fn summary(o: &OrderView) -> OrderSummary {
    OrderSummary {
        number: o.number,
        customer_name: customer_name(o),
        lines: o
            .items
            .iter()
            .filter(|l| l.canceled_at.is_none())
            .map(|l| Line {
                title: title(&l.product_title, &l.variant_title),
                quantity: l.quantity,
                total: l.line_total.unwrap_or(kernel::Money::new(l.price_amount * l.quantity as i64, o.currency)),
            })
            .collect(),
        subtotal: o.subtotal,
        discount: o.discount,
        shipping: o.shipping_fee,
        cod_fee: o.cod_fee,
        total: o.total,
        payment_method: method_name(o.payment.method).into(),
        ship_to: o.shipping_address.as_ref().map(|a| {
            let line2 = a.line2.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
            format!("〒{} {}{}{}{line2} {}", a.postal_code, a.prefecture, a.city, a.line1, a.name)
        }),
    }
}

/// `product (variant)`, or the product alone when the variant has no title of its own.
pub fn title(product: &str, variant: &str) -> String {
    let v = variant.trim();
    if v.is_empty() || v == "Default Title" || v == product { product.to_string() } else { format!("{product} ({v})") }
}

async fn send(
    tx: &mut Tx,
    store: StoreId,
    event: &Event,
    to: &str,
    t: &(dyn Template + Sync),
) -> Result<(), sqlx::Error> {
    let key = event.id.to_string();
    mail::send(tx, Outgoing { store, key: &key, to }, t).await?;
    Ok(())
}

#[async_trait]
impl Consumer for OrderMails {
    fn name(&self) -> &'static str {
        CONSUMER
    }

    fn wants(&self, event: &Event) -> bool {
        event.store_id.is_some()
            && matches!(
                event.kind(),
                Some(EventType::OrderPlaced | EventType::PaymentConfirmed | EventType::ShipmentShipped)
            )
    }

    async fn handle(&self, tx: &mut Tx, event: &Event) -> Result<(), ConsumerError> {
        let Some(store) = event.store_id else { return Ok(()) };
        if event.is(EventType::OrderPlaced) {
            let p = event.data::<OrderPlaced>()?;
            let o = view(tx, store, p.order_id, false).await.map_err(Box::new)?;
            send(tx, store, event, &o.email, &OrderConfirmation { order: summary(&o) }).await?;
            if o.payment.method == PaymentMethod::BankTransfer
                && let (Some(due), Some(a)) = (o.payment.due_at, o.payment.bank_account.as_ref())
            {
                let instructions = BankTransferInstructions {
                    number: o.number,
                    customer_name: customer_name(&o),
                    amount: o.payment.amount,
                    due,
                    account: BankAccount {
                        bank_name: a.bank_name.clone(),
                        branch_name: a.branch_name.clone(),
                        account_type: a.account_type.clone(),
                        account_number: a.account_number.clone(),
                        account_holder_kana: a.account_holder_kana.clone(),
                    },
                };
                send(tx, store, event, &o.email, &instructions).await?;
            }
        } else if event.is(EventType::PaymentConfirmed) {
            let p = event.data::<PaymentConfirmed>()?;
            if p.method != PaymentMethod::BankTransfer || p.received.amount == 0 {
                return Ok(());
            }
            let o = view(tx, store, p.order_id, false).await.map_err(Box::new)?;
            let t = PaymentReceived { number: o.number, customer_name: customer_name(&o), amount: p.received };
            send(tx, store, event, &o.email, &t).await?;
        } else {
            let p = event.data::<ShipmentShipped>()?;
            let o = view(tx, store, p.order_id, false).await.map_err(Box::new)?;
            let vendor = o.shipments.iter().find(|s| s.id == p.shipment_id).map(|s| s.vendor_id);
            let items = o
                .items
                .iter()
                .filter(|l| {
                    l.canceled_at.is_none()
                        && l.fulfillment_type != FulfillmentType::Digital
                        && Some(l.vendor_id) == vendor
                })
                .map(|l| (title(&l.product_title, &l.variant_title), l.quantity))
                .collect();
            let t = Shipped {
                number: o.number,
                customer_name: customer_name(&o),
                carrier: Some(p.carrier.clone()).filter(|c| !c.is_empty()),
                tracking_no: Some(p.tracking_no.clone()).filter(|t| !t.is_empty()),
                items,
            };
            send(tx, store, event, &o.email, &t).await?;
        }
        Ok(())
    }
}
