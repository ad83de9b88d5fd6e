//! The download check: a shopper with the order token asks for a delivery's file.
//!
//! **One statement** decides and counts: an `UPDATE` of the delivery row, joined to its order
//! (this store, this token), that increments `downloaded_count` only where the status is
//! `active`, `url_expires_at` has not passed and the count is below `max_downloads`. Concurrent
//! requests queue on the row lock and each re-checks the condition against the row as the one
//! before left it, so exactly `max_downloads` of them ever succeed, however many race. A request
//! that matches nothing then reads the row to say why ([`refusal`]): revoked, expired, or limit
//! reached, each a 410 with its own code; never a file.
//!
//! **`Idempotency-Key`**: a request that repeats an earlier one's key for the same delivery gets
//! that earlier answer again and counts nothing (the key's requests are serialised on the
//! delivery's row). The replayed URL expires when the first one did; a new key asks anew.
//!
//! On success the answer is a URL signed for the configured short time (minutes), never past the
//! delivery's own expiry ([`storage::Storage::download_expiry`]): presigned by S3 or GCS, or an
//! HMAC link to Tenpo's `/files` route for local storage. The URL is signed before the count
//! commits, so a signing failure counts nothing.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::{CustomerId, DeliveryId, OrderId, StoreId};
use serde::{Deserialize, Serialize};
use storage::{DownloadOptions, ObjectKey, Storage};
use utoipa::ToSchema;

use crate::DigitalError;
use crate::delivery::{DeliveryStatus, downloads_remaining, record};

/// Why a delivery refuses a download at `now`, or `None` when it allows one. Revocation is
/// reported first, then expiry (by status or by time), then the limit.
pub fn refusal(
    status: DeliveryStatus,
    expires_at: Option<DateTime<Utc>>,
    downloaded: i32,
    max: Option<i32>,
    now: DateTime<Utc>,
) -> Option<DigitalError> {
    match (status, expires_at) {
        (DeliveryStatus::Revoked, _) => Some(DigitalError::DownloadRevoked),
        (DeliveryStatus::Expired, Some(at)) => Some(DigitalError::DownloadExpired(at)),
        (DeliveryStatus::Expired, None) => Some(DigitalError::DownloadExpired(now)),
        (DeliveryStatus::Active, Some(at)) if at <= now => Some(DigitalError::DownloadExpired(at)),
        _ => match max {
            Some(m) if downloaded >= m => Some(DigitalError::DownloadLimitReached(m)),
            _ => None,
        },
    }
}

/// A granted download: where to send the shopper.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantedDownload {
    /// The signed URL (also the `Location` of the 303 answer). For local storage it is a path
    /// on this server.
    pub url: String,
    /// The URL stops working at this instant.
    pub url_expires_at: DateTime<Utc>,
    pub downloaded_count: i32,
    /// `null`: unlimited.
    pub downloads_remaining: Option<i32>,
}

#[derive(sqlx::FromRow)]
struct Counted {
    provider: String,
    object_key: String,
    url_expires_at: Option<DateTime<Utc>>,
    downloaded_count: i32,
    max_downloads: Option<i32>,
    filename: Option<String>,
    content_type: Option<String>,
}

#[derive(sqlx::FromRow)]
struct State {
    status: DeliveryStatus,
    url_expires_at: Option<DateTime<Utc>>,
    downloaded_count: i32,
    max_downloads: Option<i32>,
    now: DateTime<Utc>,
}

/// Takes one download of `delivery` for the holder of the order's `token` and signs its URL
/// (module docs). Commit the transaction to count it. With an `Idempotency-Key` (checked with
/// `checkout::items::check_key`) an earlier answer to the same key is given again.
#[allow(clippy::too_many_arguments)]
pub async fn take(
    tx: &mut Tx,
    storage: &Storage,
    store: StoreId,
    order: OrderId,
    delivery: DeliveryId,
    token: &str,
    idempotency_key: Option<&str>,
) -> Result<GrantedDownload, DigitalError> {
    let token_hash = checkout::order::hash_token(token);
    take_hashed(tx, storage, store, order, delivery, &token_hash, idempotency_key).await
}

/// [`take`] for the signed-in shopper whose order it is (`checkout::orders::customer_order`'s
/// rule; another's order is "not found"): the same counting statement, through the order's token.
#[allow(clippy::too_many_arguments)]
pub async fn take_for_customer(
    tx: &mut Tx,
    storage: &Storage,
    store: StoreId,
    customer: CustomerId,
    emails: &[String],
    order: OrderId,
    delivery: DeliveryId,
) -> Result<GrantedDownload, DigitalError> {
    let token_hash = checkout::orders::customer_token_hash(tx, store, customer, emails, order).await?;
    take_hashed(tx, storage, store, order, delivery, &token_hash, None).await
}

#[allow(clippy::too_many_arguments)]
async fn take_hashed(
    tx: &mut Tx,
    storage: &Storage,
    store: StoreId,
    order: OrderId,
    delivery: DeliveryId,
    token_hash: &[u8],
    idempotency_key: Option<&str>,
) -> Result<GrantedDownload, DigitalError> {
    let scope = format!("download:{delivery}");
    let request_hash = checkout::idempotency::request_hash(&order);
    if let Some(key) = idempotency_key
        && let Some(earlier) = answered(tx, store, order, delivery, token_hash, &scope, key, &request_hash).await?
    {
        return Ok(earlier);
    }
    let counted: Option<Counted> = sqlx::query_as(
        "UPDATE digital_deliveries d SET downloaded_count = d.downloaded_count + 1
           FROM orders o
          WHERE d.id = $1 AND d.order_id = $2 AND o.id = d.order_id AND o.store_id = $3 AND o.token_hash = $4
            AND d.status = 'active'
            AND (d.url_expires_at IS NULL OR d.url_expires_at > now())
            AND (d.max_downloads IS NULL OR d.downloaded_count < d.max_downloads)
        RETURNING d.provider, d.object_key, d.url_expires_at, d.downloaded_count, d.max_downloads,
                  (SELECT a.filename FROM digital_assets a WHERE a.id = d.asset_id) AS filename,
                  (SELECT a.content_type FROM digital_assets a WHERE a.id = d.asset_id) AS content_type",
    )
    .bind(delivery)
    .bind(order)
    .bind(store)
    .bind(token_hash)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(c) = counted else {
        return Err(why_not(tx, store, order, delivery, token_hash).await);
    };

    storage.check_provider(&c.provider)?;
    let key = ObjectKey::parse(c.object_key.as_str()).map_err(|_| DigitalError::FileMissing)?;
    let now = Utc::now();
    let expires_at = storage.download_expiry(now, c.url_expires_at);
    if (expires_at - now).num_seconds() < 1 {
        // the period ends within the second: nothing useful can be signed; the count rolls back
        return Err(DigitalError::DownloadExpired(expires_at));
    }
    let mut opts = DownloadOptions::new();
    if let Some(f) = c.filename {
        opts = opts.filename(f);
    }
    if let Some(t) = c.content_type {
        opts = opts.content_type(t);
    }
    let signed = storage.download_url_at(&key, now, expires_at, &opts)?;
    let event = crate::event::Downloaded {
        delivery_id: delivery,
        order_id: order,
        downloaded_count: c.downloaded_count,
        max_downloads: c.max_downloads,
    };
    record(tx, store, &event).await?;
    metrics::counter!("tenpo_digital_downloads_total", "result" => "granted").increment(1);
    let granted = GrantedDownload {
        url: signed.url,
        url_expires_at: signed.expires_at,
        downloaded_count: c.downloaded_count,
        downloads_remaining: downloads_remaining(c.max_downloads, c.downloaded_count),
    };
    if let Some(key) = idempotency_key {
        let body = serde_json::to_value(&granted).unwrap_or_default();
        checkout::idempotency::save(tx, store, &scope, key, &request_hash, 303, &body).await?;
    }
    Ok(granted)
}

/// The answer already given to `key` for this delivery, if any. Locks the delivery first (for
/// this token), so requests with one key run one after another.
#[allow(clippy::too_many_arguments)]
async fn answered(
    tx: &mut Tx,
    store: StoreId,
    order: OrderId,
    delivery: DeliveryId,
    token_hash: &[u8],
    scope: &str,
    key: &str,
    request_hash: &[u8],
) -> Result<Option<GrantedDownload>, DigitalError> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM digital_deliveries d JOIN orders o ON o.id = d.order_id
          WHERE d.id = $1 AND d.order_id = $2 AND o.store_id = $3 AND o.token_hash = $4 FOR UPDATE OF d",
    )
    .bind(delivery)
    .bind(order)
    .bind(store)
    .bind(token_hash)
    .fetch_optional(&mut **tx)
    .await?;
    if found.is_none() {
        return Err(DigitalError::DeliveryNotFound);
    }
    let earlier = checkout::idempotency::find(tx, scope, key, request_hash).await?;
    Ok(earlier.and_then(|(_, body)| serde_json::from_value(body).ok()))
}

/// Why the counting statement matched nothing: no such delivery for this token (404), or the
/// delivery's own refusal (410).
async fn why_not(tx: &mut Tx, store: StoreId, order: OrderId, delivery: DeliveryId, token_hash: &[u8]) -> DigitalError {
    let state: Result<Option<State>, sqlx::Error> = sqlx::query_as(
        "SELECT d.status, d.url_expires_at, d.downloaded_count, d.max_downloads, now() AS now
           FROM digital_deliveries d JOIN orders o ON o.id = d.order_id
          WHERE d.id = $1 AND d.order_id = $2 AND o.store_id = $3 AND o.token_hash = $4",
    )
    .bind(delivery)
    .bind(order)
    .bind(store)
    .bind(token_hash)
    .fetch_optional(&mut **tx)
    .await;
    let error = match state {
        Err(e) => return e.into(),
        Ok(None) => DigitalError::DeliveryNotFound,
        // Changed between the two statements (staff extended it, say): the shopper may ask again.
        Ok(Some(s)) => refusal(s.status, s.url_expires_at, s.downloaded_count, s.max_downloads, s.now)
            .unwrap_or(DigitalError::DownloadLimitReached(s.max_downloads.unwrap_or_default())),
    };
    metrics::counter!("tenpo_digital_downloads_total", "result" => error_code(&error)).increment(1);
    error
}

fn error_code(e: &DigitalError) -> &'static str {
    kernel::Problem::code(e)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use DeliveryStatus::*;

    fn code(r: Option<DigitalError>) -> &'static str {
        r.as_ref().map(error_code).unwrap_or("allowed")
    }

    #[test]
    fn an_active_delivery_within_its_period_and_limit_allows_a_download() {
        let now = Utc::now();
        assert_eq!(code(refusal(Active, Some(now + Duration::minutes(1)), 2, Some(3), now)), "allowed");
        assert_eq!(code(refusal(Active, None, 1000, None, now)), "allowed");
    }

    #[test]
    fn each_reason_has_its_code_and_revocation_comes_first() {
        let now = Utc::now();
        let past = Some(now - Duration::seconds(1));
        assert_eq!(code(refusal(Active, Some(now + Duration::minutes(1)), 3, Some(3), now)), "download_limit_reached");
        assert_eq!(code(refusal(Active, past, 0, Some(3), now)), "download_expired");
        assert_eq!(code(refusal(Active, Some(now), 0, None, now)), "download_expired", "the end is exclusive");
        assert_eq!(code(refusal(Expired, Some(now + Duration::minutes(1)), 0, None, now)), "download_expired");
        assert_eq!(code(refusal(Revoked, past, 3, Some(3), now)), "download_revoked");
        assert_eq!(code(refusal(Active, past, 3, Some(3), now)), "download_expired", "expiry before the limit");
    }
}
