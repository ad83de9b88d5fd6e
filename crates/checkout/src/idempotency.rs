//! Stored answers for `Idempotency-Key` on unsafe storefront calls whose answer cannot be
//! recomputed (a checkout hands out an order token only once). The first successful answer is
//! kept with a hash of the request; the same key and request answer it again, the same key
//! with another request is refused. Failures are not kept: retrying them is allowed.
//!
//! Two requests with one key must run one after another. Where the call addresses a resource,
//! its row lock does that (checkout locks the cart, a download its delivery); where it makes
//! the resource (`POST /carts`), [`claim`] takes the key itself as the lock.

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
    answer_of(row, hash)
}

/// What a key's stored row (request hash, status, body), read by [`find`] or with the
/// statement that locks the scope's resource, answers for a request of `hash`: its stored
/// answer, nothing yet (go on), or the key used for another request.
pub(crate) fn answer_of(
    row: Option<(Vec<u8>, Option<i32>, Option<Value>)>,
    hash: &[u8],
) -> Result<Option<(u16, Value)>, CheckoutError> {
    match row {
        None => Ok(None),
        Some((stored, _, _)) if stored != hash => Err(CheckoutError::IdempotencyKeyReused),
        Some((_, Some(status), Some(body))) => Ok(Some((status as u16, body))),
        Some(_) => Ok(None),
    }
}

/// Claims `scope`/`key` for a request that creates what it addresses, so there is no row to
/// lock yet: the first caller inserts the key, unanswered, and holds it until its transaction
/// ends; a concurrent caller with the same key waits on that insert and then finds the stored
/// answer (or, if the first rolled back, claims the key itself). `None`: go on, then [`save`].
pub async fn claim(
    tx: &mut Tx,
    store: StoreId,
    scope: &str,
    key: &str,
    hash: &[u8],
) -> Result<Option<(u16, Value)>, CheckoutError> {
    let claimed: Option<i32> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (tenant_id, store_id, scope, key, request_hash) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, scope, key) DO NOTHING RETURNING 1",
    )
    .bind(tx.tenant())
    .bind(store)
    .bind(scope)
    .bind(key)
    .bind(hash)
    .fetch_optional(&mut **tx)
    .await?;
    if claimed.is_some() {
        return Ok(None);
    }
    find(tx, scope, key, hash).await
}

/// Stores the answer of `scope`/`key` (completing a [`claim`], if one was made).
pub async fn save(
    tx: &mut Tx,
    store: StoreId,
    scope: &str,
    key: &str,
    hash: &[u8],
    status: u16,
    body: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("WITH {} SELECT 1", save_cte(1, 2, "$7")))
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

/// [`save`] as a CTE (`idempotency_saved`, without a leading `WITH`) of the statement that ends
/// a request, so storing its answer costs no round trip of its own: the tenant is `$tenant`,
/// the store, scope, key, request hash and status are the five parameters from `$first`, and
/// `body` is a jsonb expression of that statement (the answer with what only it knows).
pub(crate) fn save_cte(tenant: usize, first: usize, body: &str) -> String {
    let (store, scope, key, hash, status) = (first, first + 1, first + 2, first + 3, first + 4);
    format!(
        "idempotency_saved AS (
           INSERT INTO idempotency_keys (tenant_id, store_id, scope, key, request_hash, response_status, response_body)
           VALUES (${tenant}, ${store}, ${scope}, ${key}, ${hash}, ${status}, {body})
           ON CONFLICT (tenant_id, scope, key) DO UPDATE
             SET response_status = EXCLUDED.response_status, response_body = EXCLUDED.response_body
           WHERE idempotency_keys.response_status IS NULL AND idempotency_keys.request_hash = EXCLUDED.request_hash)"
    )
}

/// Erasure (`crate::erasure`): the stored checkout answers of these customers' orders (they
/// carry the order's email and addresses) are dropped; the same key sent again then finds the
/// cart ordered already.
pub(crate) async fn forget_checkouts_of(tx: &mut Tx, customers: &[kernel::CustomerId]) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM idempotency_keys k USING orders o
          WHERE o.customer_id = ANY($1) AND o.idempotency_key IS NOT NULL
            AND k.scope = 'checkout:' || o.store_id AND k.key = o.idempotency_key",
    )
    .bind(customers)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}
