//! Deliveries: one per digital order item of a paid order, with the download period and limit
//! the product (else the store) set when it was created; and what staff may do to one.
//!
//! **Creation** ([`deliver_order`]) runs in the outbox consumer on `payment.confirmed` (and on
//! demand for staff). For each digital item of the order that has no delivery yet, it takes the
//! effective settings by catalog's rule ([`catalog::digital::product_settings`]: the product's
//! value when set, else the store's, per setting), and inserts the delivery with the asset's
//! provider and object key copied in. The unique index on `order_item_id` with
//! `ON CONFLICT DO NOTHING` makes it exactly once per item however often it runs. An item whose
//! variant has no file yet is left undelivered (see [`OrderDeliveries::undelivered_item_ids`]);
//! staff deliver it after uploading the file.
//!
//! **Statuses**: `active` → `expired` (the worker, once `url_expires_at` passes; the download
//! check refuses a passed delivery even before) → `active` again only by staff extending it;
//! `active`/`expired` → `revoked` (staff, or the order being canceled), which is final.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Acting, Permission};
use kernel::{AssetId, DeliveryId, OrderId, OrderItemId, ProductId, StoreId, Validator};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::DigitalError;
use crate::download::refusal;
use crate::event::{DeliveryCreated, DeliveryExtended, DeliveryLimitChanged, DeliveryRevoked};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum DeliveryStatus {
    Active,
    /// The download period passed (set by the worker).
    Expired,
    /// Staff revoked it, or the order was canceled. Final.
    Revoked,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Active => "active",
            DeliveryStatus::Expired => "expired",
            DeliveryStatus::Revoked => "revoked",
        }
    }
}

/// A delivery as staff and the shopper see it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Delivery {
    pub id: DeliveryId,
    pub order_id: OrderId,
    pub order_item_id: OrderItemId,
    /// What was bought, as it was named when sold.
    pub product_title: String,
    pub variant_title: String,
    pub asset_id: Option<AssetId>,
    /// The file's name and type as the download gives them.
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub status: DeliveryStatus,
    /// Downloads are refused from this instant (`null`: never).
    pub url_expires_at: Option<DateTime<Utc>>,
    /// `null`: unlimited.
    pub max_downloads: Option<i32>,
    pub downloaded_count: i32,
    /// `null`: unlimited.
    #[sqlx(skip)]
    pub downloads_remaining: Option<i32>,
    /// Whether a download request would succeed now.
    #[sqlx(skip)]
    pub downloadable: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Delivery {
    fn with_derived(mut self, now: DateTime<Utc>) -> Self {
        self.downloads_remaining = downloads_remaining(self.max_downloads, self.downloaded_count);
        self.downloadable =
            refusal(self.status, self.url_expires_at, self.downloaded_count, self.max_downloads, now).is_none();
        self
    }
}

/// Downloads left under a limit (`None`: unlimited).
pub fn downloads_remaining(max: Option<i32>, count: i32) -> Option<i32> {
    max.map(|m| (m - count).max(0))
}

/// An order's deliveries, and its digital items that have none yet (the order is unpaid or
/// canceled, or the variant had no file when it was paid).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderDeliveries {
    pub deliveries: Vec<Delivery>,
    pub undelivered_item_ids: Vec<OrderItemId>,
}

const SELECT: &str = "SELECT d.id, d.order_id, d.order_item_id, oi.product_title, oi.variant_title, d.asset_id,
        a.filename, a.content_type, a.size_bytes, d.status, d.url_expires_at, d.max_downloads, d.downloaded_count,
        d.created_at, d.updated_at
   FROM digital_deliveries d
   JOIN order_items oi ON oi.id = d.order_item_id
   LEFT JOIN digital_assets a ON a.id = d.asset_id";

/// The deliveries of an order (already known to be the caller's), items in order.
async fn of_order(tx: &mut Tx, order: OrderId, by: Acting<'_>) -> Result<OrderDeliveries, DigitalError> {
    let vendor = by.vendor();
    let deliveries: Vec<Delivery> = sqlx::query_as(&format!(
        "{SELECT} WHERE d.order_id = $1 AND ($2::uuid IS NULL OR oi.vendor_id = $2) ORDER BY oi.id"
    ))
    .bind(order)
    .bind(vendor)
    .fetch_all(&mut **tx)
    .await?;
    let undelivered_item_ids: Vec<OrderItemId> = sqlx::query_scalar(
        "SELECT oi.id FROM order_items oi
          WHERE oi.order_id = $1 AND oi.fulfillment_type = 'digital' AND ($2::uuid IS NULL OR oi.vendor_id = $2)
            AND oi.canceled_at IS NULL AND NOT EXISTS (SELECT 1 FROM digital_deliveries d WHERE d.order_item_id = oi.id)
          ORDER BY oi.id",
    )
    .bind(order)
    .bind(vendor)
    .fetch_all(&mut **tx)
    .await?;
    let now = Utc::now();
    Ok(OrderDeliveries {
        deliveries: deliveries.into_iter().map(|d| d.with_derived(now)).collect(),
        undelivered_item_ids,
    })
}

/// The order's status and whether it is paid, if the order is in this store and within the
/// acting party's reach (a vendor's staff reach orders holding their lines).
async fn order_state(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
) -> Result<(String, bool), DigitalError> {
    if !checkout::vendor_part::visible(tx, order, by.vendor()).await? {
        return Err(DigitalError::OrderNotFound);
    }
    let row: Option<(String, bool)> = sqlx::query_as(
        "SELECT o.status, EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.status = 'confirmed')
           FROM orders o WHERE o.id = $1 AND o.store_id = $2",
    )
    .bind(order)
    .bind(store)
    .fetch_optional(&mut **tx)
    .await?;
    row.ok_or(DigitalError::OrderNotFound)
}

/// Staff: an order's deliveries.
pub async fn list_for_staff(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
) -> Result<OrderDeliveries, DigitalError> {
    by.require(Permission::OrdersRead)?;
    order_state(tx, store, by, order).await?;
    of_order(tx, order, by).await
}

/// The shopper holding the order token: the order's deliveries.
pub async fn list_for_shopper(
    tx: &mut Tx,
    store: StoreId,
    order: OrderId,
    token: &str,
) -> Result<OrderDeliveries, DigitalError> {
    checkout::order::by_token(tx, store, order, token).await?;
    of_order(tx, order, Acting::System).await
}

/// The signed-in shopper whose order it is (`checkout::orders::customer_order`'s rule): the
/// order's deliveries, as the token's holder sees them.
pub async fn list_for_customer(
    tx: &mut Tx,
    store: StoreId,
    customer: kernel::CustomerId,
    emails: &[String],
    order: OrderId,
) -> Result<OrderDeliveries, DigitalError> {
    checkout::orders::customer_token_hash(tx, store, customer, emails, order).await?;
    of_order(tx, order, Acting::System).await
}

/// Creates the missing deliveries of a paid order (module docs); answers those it created.
/// Does nothing for an unpaid or canceled order. `by` limits it to a vendor's lines when a
/// vendor's staff act.
pub async fn deliver_order(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
) -> Result<Vec<DeliveryId>, DigitalError> {
    let (status, paid) = order_state(tx, store, by, order).await?;
    if !paid || status == "canceled" {
        return Ok(Vec::new());
    }
    let items: Vec<(OrderItemId, ProductId)> = sqlx::query_as(
        "SELECT oi.id, v.product_id FROM order_items oi JOIN variants v ON v.id = oi.variant_id
          WHERE oi.order_id = $1 AND oi.fulfillment_type = 'digital' AND v.digital_asset_id IS NOT NULL
            AND oi.canceled_at IS NULL
            AND ($2::uuid IS NULL OR oi.vendor_id = $2)
            AND NOT EXISTS (SELECT 1 FROM digital_deliveries d WHERE d.order_item_id = oi.id)
          ORDER BY oi.id",
    )
    .bind(order)
    .bind(by.vendor())
    .fetch_all(&mut **tx)
    .await?;
    let mut created = Vec::new();
    for (item, product) in items {
        let settings = catalog::digital::product_settings(tx, store, product).await?.effective;
        // the asset is read in the same statement that copies it, so a concurrent replacement
        // of the variant's file either precedes it (the new file) or follows it (the old file
        // is kept: the delivery refers to it)
        let row: Option<DeliveryCreated> = sqlx::query_as::<_, (DeliveryId, AssetId, Option<DateTime<Utc>>)>(
            "INSERT INTO digital_deliveries
                    (id, tenant_id, order_id, order_item_id, asset_id, provider, object_key, url_expires_at, max_downloads)
             SELECT $1, $2, oi.order_id, oi.id, a.id, a.provider, a.object_key,
                    now() + make_interval(secs => $4), $5
               FROM order_items oi JOIN variants v ON v.id = oi.variant_id JOIN digital_assets a ON a.id = v.digital_asset_id
              WHERE oi.id = $3
             ON CONFLICT (order_item_id) DO NOTHING
             RETURNING id, asset_id, url_expires_at",
        )
        .bind(DeliveryId::new())
        .bind(tx.tenant())
        .bind(item)
        .bind(settings.url_ttl_seconds as f64)
        .bind(settings.max_downloads)
        .fetch_optional(&mut **tx)
        .await?
        .map(|(delivery_id, asset_id, url_expires_at)| DeliveryCreated {
            delivery_id,
            order_id: order,
            order_item_id: item,
            asset_id,
            url_expires_at,
            max_downloads: settings.max_downloads,
        });
        if let Some(c) = row {
            record(tx, store, &c).await?;
            created.push(c.delivery_id);
        }
    }
    if !created.is_empty() {
        metrics::counter!("tenpo_digital_deliveries_created_total").increment(created.len() as u64);
    }
    Ok(created)
}

/// Staff: delivers what is missing (after uploading a file the variant lacked when the order was
/// paid) and answers the order's deliveries.
pub async fn deliver_missing(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
) -> Result<OrderDeliveries, DigitalError> {
    by.require(Permission::DigitalManage)?;
    let (status, paid) = order_state(tx, store, by, order).await?;
    if status == "canceled" {
        return Err(DigitalError::OrderCanceled);
    }
    if !paid {
        return Err(DigitalError::OrderNotPaid);
    }
    deliver_order(tx, store, by, order).await?;
    of_order(tx, order, by).await
}

pub(crate) async fn record(tx: &mut Tx, store: StoreId, event: &impl events::Payload) -> Result<(), sqlx::Error> {
    events::record(tx, events::NewEvent::of(event).in_store(store)).await.map(|_| ())
}

/// Locks a delivery of an order of this store (within a vendor's scope) for a change; answers
/// its status and count. A revoked delivery cannot be changed (409 `delivery_revoked`).
async fn lock_changeable(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
    delivery: DeliveryId,
) -> Result<(DeliveryStatus, i32), DigitalError> {
    sqlx::query_as(
        "SELECT d.status, d.downloaded_count FROM digital_deliveries d
           JOIN orders o ON o.id = d.order_id JOIN order_items oi ON oi.id = d.order_item_id
          WHERE d.id = $1 AND d.order_id = $2 AND o.store_id = $3 AND ($4::uuid IS NULL OR oi.vendor_id = $4)
          FOR UPDATE OF d",
    )
    .bind(delivery)
    .bind(order)
    .bind(store)
    .bind(by.vendor())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(DigitalError::DeliveryNotFound)
    .and_then(|(status, count)| match status {
        DeliveryStatus::Revoked => Err(DigitalError::DeliveryRevoked),
        _ => Ok((status, count)),
    })
}

async fn load(tx: &mut Tx, delivery: DeliveryId) -> Result<Delivery, DigitalError> {
    let d: Delivery = sqlx::query_as(&format!("{SELECT} WHERE d.id = $1")).bind(delivery).fetch_one(&mut **tx).await?;
    Ok(d.with_derived(Utc::now()))
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeDelivery {
    /// Why, for the order's records (at most 500 characters).
    pub reason: Option<String>,
}

/// Revokes a delivery: every later download request answers 410 `download_revoked`. Final.
pub async fn revoke(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
    delivery: DeliveryId,
    input: RevokeDelivery,
) -> Result<Delivery, DigitalError> {
    by.require(Permission::DigitalManage)?;
    let mut v = Validator::new();
    let reason = v.opt_text("reason", input.reason.as_deref(), 500);
    v.into_result()?;
    lock_changeable(tx, store, by, order, delivery).await?;
    sqlx::query("UPDATE digital_deliveries SET status = 'revoked' WHERE id = $1")
        .bind(delivery)
        .execute(&mut **tx)
        .await?;
    let event = DeliveryRevoked { delivery_id: delivery, order_id: order, reason, by: by.actor() };
    record(tx, store, &event).await?;
    load(tx, delivery).await
}

/// Revokes every delivery of an order that is not revoked yet (the order was canceled).
pub async fn revoke_all(tx: &mut Tx, store: StoreId, order: OrderId, reason: &str) -> Result<usize, DigitalError> {
    let revoked: Vec<DeliveryId> = sqlx::query_scalar(
        "UPDATE digital_deliveries SET status = 'revoked' WHERE order_id = $1 AND status <> 'revoked' RETURNING id",
    )
    .bind(order)
    .fetch_all(&mut **tx)
    .await?;
    for d in &revoked {
        let event = DeliveryRevoked {
            delivery_id: *d,
            order_id: order,
            reason: Some(reason.to_string()),
            by: kernel::access::Actor::System,
        };
        record(tx, store, &event).await?;
    }
    Ok(revoked.len())
}

/// The longest a download period may be set to, from now (as catalog's settings allow).
pub const MAX_PERIOD_SECONDS: i64 = catalog::digital::MAX_TTL_SECONDS as i64;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendDelivery {
    /// The new end of the download period: in the future, within 10 years. An expired delivery
    /// becomes active again.
    pub url_expires_at: DateTime<Utc>,
}

/// Checks a new end of the download period against `now`.
pub fn check_new_expiry(v: &mut Validator, expires_at: DateTime<Utc>, now: DateTime<Utc>) {
    if expires_at <= now {
        v.push("url_expires_at", "out_of_range", "must be in the future");
    } else if (expires_at - now).num_seconds() > MAX_PERIOD_SECONDS {
        v.push("url_expires_at", "out_of_range", "must be within 10 years from now");
    }
}

/// Sets a new end of the download period; an expired delivery becomes active again.
pub async fn extend(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
    delivery: DeliveryId,
    input: ExtendDelivery,
) -> Result<Delivery, DigitalError> {
    by.require(Permission::DigitalManage)?;
    let mut v = Validator::new();
    check_new_expiry(&mut v, input.url_expires_at, Utc::now());
    v.into_result()?;
    let (status, _) = lock_changeable(tx, store, by, order, delivery).await?;
    sqlx::query("UPDATE digital_deliveries SET url_expires_at = $2, status = 'active' WHERE id = $1")
        .bind(delivery)
        .bind(input.url_expires_at)
        .execute(&mut **tx)
        .await?;
    let event = DeliveryExtended {
        delivery_id: delivery,
        order_id: order,
        url_expires_at: input.url_expires_at,
        reactivated: status == DeliveryStatus::Expired,
        by: by.actor(),
    };
    record(tx, store, &event).await?;
    load(tx, delivery).await
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeDownloadLimit {
    /// Start counting downloads from zero again.
    #[serde(default)]
    pub reset_count: bool,
    /// A new limit (1 to 1,000,000, not below the downloads already counted), or `null` for
    /// unlimited; absent leaves it.
    #[serde(default, deserialize_with = "kernel::validate::nullable")]
    #[schema(value_type = Option<i32>)]
    pub max_downloads: Option<Option<i32>>,
}

/// Checks a limit change against the downloads counted so far: the new limit may not be below
/// what has already been downloaded (unless the count is reset).
pub fn check_limit_change(v: &mut Validator, input: &ChangeDownloadLimit, counted: i32) {
    if let Some(Some(max)) = input.max_downloads {
        v.range("max_downloads", max, 1, 1_000_000);
        let count_after = if input.reset_count { 0 } else { counted };
        if max >= 1 && max < count_after {
            v.push(
                "max_downloads",
                "out_of_range",
                format!("{counted} downloads were already made; reset the count or allow at least {counted}"),
            );
        }
    }
}

/// Resets the download count and/or changes the limit.
pub async fn change_limit(
    tx: &mut Tx,
    store: StoreId,
    by: Acting<'_>,
    order: OrderId,
    delivery: DeliveryId,
    input: ChangeDownloadLimit,
) -> Result<Delivery, DigitalError> {
    by.require(Permission::DigitalManage)?;
    let (_, counted) = lock_changeable(tx, store, by, order, delivery).await?;
    let mut v = Validator::new();
    check_limit_change(&mut v, &input, counted);
    v.into_result()?;
    let (count, max): (i32, Option<i32>) = sqlx::query_as(
        "UPDATE digital_deliveries
            SET downloaded_count = CASE WHEN $2 THEN 0 ELSE downloaded_count END,
                max_downloads = CASE WHEN $3 THEN $4 ELSE max_downloads END
          WHERE id = $1 RETURNING downloaded_count, max_downloads",
    )
    .bind(delivery)
    .bind(input.reset_count)
    .bind(input.max_downloads.is_some())
    .bind(input.max_downloads.flatten())
    .fetch_one(&mut **tx)
    .await?;
    let event = DeliveryLimitChanged {
        delivery_id: delivery,
        order_id: order,
        previous_count: counted,
        downloaded_count: count,
        max_downloads: max,
        by: by.actor(),
    };
    record(tx, store, &event).await?;
    load(tx, delivery).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_downloads() {
        assert_eq!(downloads_remaining(Some(3), 1), Some(2));
        assert_eq!(downloads_remaining(Some(3), 3), Some(0));
        assert_eq!(downloads_remaining(None, 99), None);
    }

    #[test]
    fn a_new_expiry_is_in_the_future_and_within_ten_years() {
        let now = Utc::now();
        let check = |t| {
            let mut v = Validator::new();
            check_new_expiry(&mut v, t, now);
            v.into_result().is_ok()
        };
        assert!(check(now + chrono::Duration::days(30)));
        assert!(!check(now));
        assert!(!check(now - chrono::Duration::seconds(1)));
        assert!(!check(now + chrono::Duration::days(3700)));
    }

    #[test]
    fn a_limit_cannot_go_below_what_was_downloaded_unless_reset() {
        let ok = |reset, max: Option<Option<i32>>, counted| {
            let mut v = Validator::new();
            check_limit_change(&mut v, &ChangeDownloadLimit { reset_count: reset, max_downloads: max }, counted);
            v.into_result().is_ok()
        };
        assert!(ok(false, Some(Some(5)), 3), "raise");
        assert!(ok(false, Some(Some(3)), 3), "equal to the count: nothing left, but valid");
        assert!(!ok(false, Some(Some(2)), 3), "below the count");
        assert!(ok(true, Some(Some(2)), 3), "reset, then a lower limit");
        assert!(ok(false, Some(None), 3), "unlimited");
        assert!(ok(true, None, 3), "reset only");
        assert!(!ok(true, Some(Some(0)), 0), "zero is no limit");
    }
}
