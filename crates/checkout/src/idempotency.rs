//! Stored answers for `Idempotency-Key` on unsafe storefront calls whose answer cannot be
//! recomputed (a checkout hands out an order token only once). The first successful answer is
//! kept with a hash of the request; the same key and request answer it again, the same key
//! with another request is refused. Failures are not kept: retrying them is allowed.

use db::Tx;
use kernel::StoreId;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::CheckoutError;

pub fn request_hash(request: &impl Serialize) -> Vec<u8> {
    Sha256::digest(serde_json::to_vec(request).unwrap_or_default()).to_vec()
}

/// The stored answer of `scope`/`key`, if any. Call with the scope's resource locked (the
/// cart), so two requests with one key run one after another.
pub async fn find(tx: &mut Tx, scope: &str, key: &str, hash: &[u8]) -> Result<Option<(u16, Value)>, CheckoutError> {
    let row: Option<(Vec<u8>, Option<i32>, Option<Value>)> = sqlx::query_as(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        None => Ok(None),
        Some((stored, _, _)) if stored != hash => Err(CheckoutError::IdempotencyKeyReused),
        Some((_, Some(status), Some(body))) => Ok(Some((status as u16, body))),
        Some(_) => Ok(None),
    }
}

pub async fn save(
    tx: &mut Tx,
    store: StoreId,
    scope: &str,
    key: &str,
    hash: &[u8],
    status: u16,
    body: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, store_id, scope, key, request_hash, response_status, response_body)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx.tenant())
    .bind(store)
    .bind(scope)
    .bind(key)
    .bind(hash)
    .bind(status as i32)
    .bind(body)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
