//! The worker side of the hot-item queue: a [`Decider`] claims a variant's queued requests and
//! decides them in arrival order, a batch per transaction (the module docs of [`super`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use db::Db;
use inventory::reservation::{self, Ask, Refusal};
use kernel::{CartId, CartItemId, CustomerId, ReservationRequestId, StoreId, TenantId, VariantId};
use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgListener};
use tokio_util::sync::CancellationToken;

use super::queue::HotQueue;
use crate::items;
use crate::items::{REQUEST_COLUMNS, RequestRecord, RequestStatus};

#[derive(Debug, Clone)]
pub struct HotSettings {
    /// Requests decided per transaction.
    pub batch_size: i64,
    /// How long a claim is a decider's before a claimer without the variant's lock may take it
    /// up (deciders holding the lock take a dead decider's claims at once: [`Takeover::Any`]).
    pub lease: Duration,
    /// Look for work this often even without a wake-up.
    pub poll: Duration,
}

impl Default for HotSettings {
    fn default() -> Self {
        HotSettings { batch_size: 500, lease: Duration::from_secs(10), poll: Duration::from_millis(500) }
    }
}

/// A claimed request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: ReservationRequestId,
    pub cart_id: CartId,
    pub customer_id: Option<CustomerId>,
    pub quantity: i32,
}

/// Whose `processing` requests a claim may take besides the queued ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    /// Only those whose lease passed: the claimer does not hold the variant's lock, so their
    /// decider may still be working on them.
    Expired,
    /// All of them: the claimer holds the variant's advisory lock, which a live decider would
    /// hold, so every `processing` request is a dead decider's. Taken at once, they keep their
    /// place in arrival order instead of waiting out the lease behind later arrivals.
    Any,
}

/// What a claim takes: up to `limit` requests, for `lease`.
#[derive(Debug, Clone, Copy)]
pub struct ClaimSpec {
    pub limit: i64,
    pub lease: Duration,
    pub takeover: Takeover,
}

/// Claims up to `spec.limit` undecided requests of a hot variant, oldest first, for `worker`.
/// Committed on return: the lease now protects them.
pub async fn claim(
    db: &Db,
    tenant: TenantId,
    variant: VariantId,
    worker: &str,
    spec: ClaimSpec,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let mut tx = db.begin(tenant).await?;
    // a claim lost in a crash leaves its requests queued, which is as good: no need to wait
    // for the disk
    sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
    let claimed = claim_in(&mut tx, variant, worker, spec).await?;
    tx.commit().await?;
    Ok(claimed)
}

/// The claim itself, in the caller's transaction. Concurrent claimers cannot take the same
/// request: the status is checked again on the row itself once it is locked.
async fn claim_in(
    conn: &mut PgConnection,
    variant: VariantId,
    worker: &str,
    spec: ClaimSpec,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let mut claimed: Vec<Claimed> = sqlx::query_as(
        "UPDATE inventory_reservation_requests r
            SET status = 'processing', claimed_by = $1, lease_expires_at = now() + make_interval(secs => $2),
                attempts = r.attempts + 1, updated_at = now()
          WHERE r.id IN (
            SELECT id FROM inventory_reservation_requests
             WHERE variant_id = $3 AND is_hot
               AND (status = 'queued' OR (status = 'processing' AND ($5 OR lease_expires_at < now())))
             ORDER BY id LIMIT $4)
            AND (r.status = 'queued' OR (r.status = 'processing' AND ($5 OR r.lease_expires_at < now())))
          RETURNING r.id, r.cart_id, r.customer_id, r.quantity",
    )
    .bind(worker)
    .bind(spec.lease.as_secs_f64())
    .bind(variant)
    .bind(spec.limit)
    .bind(spec.takeover == Takeover::Any)
    .fetch_all(&mut *conn)
    .await?;
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// A request's fate in a batch: granted on a stock row (index into the locked rows) or
/// refused with a code.
type Outcome = Result<(usize, Ask), &'static str>;

/// Decides claimed requests in one transaction (see the module docs), then, with `next`,
/// claims the next batch in the same transaction: a draining
/// decider commits once per batch. Answers the decided records and the next claim; requests no
/// longer claimed by `worker` are left alone.
///
/// The claim is trusted first: the closing update only touches requests still claimed by
/// `worker`, and if any was taken over meanwhile (its lease passed) the whole decision rolls
/// back and is made again on the requests re-locked as still ours. Taking them over is rare,
/// and locking every request up front costs as much as updating it.
pub async fn decide_then_claim(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    variant: VariantId,
    worker: &str,
    claimed: &[Claimed],
    next: Option<ClaimSpec>,
) -> Result<(Vec<RequestRecord>, Vec<Claimed>), sqlx::Error> {
    for relock in [false, true] {
        if let Some(done) = decide_batch(db, tenant, store, variant, worker, claimed, relock, next).await? {
            return Ok(done);
        }
    }
    Ok(Default::default())
}

/// One attempt of [`decide_then_claim`]: `None` when the claim no longer held for every
/// request (only when not `relock`).
#[allow(clippy::too_many_arguments)]
async fn decide_batch(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    variant: VariantId,
    worker: &str,
    claimed: &[Claimed],
    relock: bool,
    next: Option<ClaimSpec>,
) -> Result<Option<(Vec<RequestRecord>, Vec<Claimed>)>, sqlx::Error> {
    let mut tx = db.begin(tenant).await?;
    let mine: Vec<Claimed> = if relock {
        let ids: Vec<ReservationRequestId> = claimed.iter().map(|c| c.id).collect();
        sqlx::query_as(
            "SELECT id, cart_id, customer_id, quantity FROM inventory_reservation_requests
              WHERE id = ANY($1) AND status = 'processing' AND claimed_by = $2 ORDER BY id FOR UPDATE",
        )
        .bind(&ids)
        .bind(worker)
        .fetch_all(&mut *tx)
        .await?
    } else {
        claimed.to_vec()
    };
    if mine.is_empty() {
        return Ok(Some((Vec::new(), Vec::new())));
    }
    let carts: Vec<CartId> = mine.iter().map(|c| c.cart_id).collect();
    let sellable = items::sellable(&mut tx, store, variant).await.ok();
    let ttl = sellable.as_ref().map_or(900, |s| s.reservation_ttl);
    let mut rows = reservation::lock_rows(&mut tx, store, variant).await?;
    let mut free: Vec<i32> = rows.iter().map(|r| r.free()).collect();
    // whether each cart is still open matters only when something can be granted; once sold
    // out, every request is refused as such without the look
    let open: Option<std::collections::HashSet<CartId>> = match sellable.is_some() && free.iter().any(|f| *f > 0) {
        true => Some(
            sqlx::query_scalar::<_, CartId>("SELECT id FROM carts WHERE id = ANY($1) AND status = 'active'")
                .bind(&carts)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect(),
        ),
        false => None,
    };

    // per-customer limit: units already held or bought, by customer (or cart, for guests)
    let limit = sellable.as_ref().and_then(|s| s.hot_limit_per_customer);
    let mut taken_by_customer: HashMap<CustomerId, i64> = HashMap::new();
    let mut taken_by_cart: HashMap<CartId, i64> = HashMap::new();
    if limit.is_some() {
        let customers: Vec<CustomerId> = mine.iter().filter_map(|c| c.customer_id).collect();
        for (customer, cart, units) in items::units_taken(&mut tx, variant, &customers, &carts).await? {
            match customer {
                Some(c) => *taken_by_customer.entry(c).or_default() += units,
                None => *taken_by_cart.entry(cart).or_default() += units,
            }
        }
    }

    // decide in arrival order
    let mut outcomes: Vec<(ReservationRequestId, Outcome)> = Vec::with_capacity(mine.len());
    for c in &mine {
        let outcome = if sellable.is_none() {
            Err("variant_not_available")
        } else if open.as_ref().is_some_and(|o| !o.contains(&c.cart_id)) {
            Err("cart_not_active")
        } else {
            let taken = match c.customer_id {
                Some(customer) => taken_by_customer.get(&customer).copied().unwrap_or(0),
                None => taken_by_cart.get(&c.cart_id).copied().unwrap_or(0),
            };
            if limit.is_some_and(|l| taken + c.quantity as i64 > l as i64) {
                Err(Refusal::LimitExceeded.code())
            } else {
                let choice = match free.iter().position(|f| *f >= c.quantity) {
                    Some(i) => Ok(i),
                    None if free.iter().any(|f| *f > 0) => Err(Refusal::InsufficientStock.code()),
                    None => Err(Refusal::SoldOut.code()),
                };
                choice.map(|i| {
                    free[i] -= c.quantity;
                    match c.customer_id {
                        Some(customer) => *taken_by_customer.entry(customer).or_default() += c.quantity as i64,
                        None => *taken_by_cart.entry(c.cart_id).or_default() += c.quantity as i64,
                    }
                    (
                        i,
                        Ask {
                            variant,
                            quantity: c.quantity,
                            cart: c.cart_id,
                            cart_item: None,
                            customer: c.customer_id,
                            ttl_seconds: ttl,
                        },
                    )
                })
            }
        };
        outcomes.push((c.id, outcome));
    }

    // cart lines for the granted, one upsert per cart
    let mut per_cart: HashMap<CartId, i32> = HashMap::new();
    for (_, o) in &outcomes {
        if let Ok((_, ask)) = o {
            *per_cart.entry(ask.cart).or_default() += ask.quantity;
        }
    }
    let mut line_of: HashMap<CartId, CartItemId> = HashMap::new();
    if let (Some(s), false) = (&sellable, per_cart.is_empty()) {
        let line_carts: Vec<CartId> = per_cart.keys().copied().collect();
        let line_qty: Vec<i32> = line_carts.iter().map(|c| per_cart[c]).collect();
        let line_ids: Vec<CartItemId> = line_carts.iter().map(|_| CartItemId::new()).collect();
        let rows: Vec<(CartItemId, CartId)> = sqlx::query_as(
            "INSERT INTO cart_items (id, tenant_id, cart_id, vendor_id, variant_id, price_amount, price_currency, quantity)
             SELECT x.id, $1, x.cart_id, $2, $3, $4, $5, x.qty FROM unnest($6::uuid[], $7::uuid[], $8::int[]) AS x(id, cart_id, qty)
             ON CONFLICT (cart_id, variant_id) DO UPDATE
               SET quantity = cart_items.quantity + EXCLUDED.quantity, price_amount = EXCLUDED.price_amount, updated_at = now()
             RETURNING id, cart_id",
        )
        .bind(tenant)
        .bind(s.vendor_id)
        .bind(variant)
        .bind(s.price_amount)
        .bind(s.price_currency)
        .bind(&line_ids)
        .bind(&line_carts)
        .bind(&line_qty)
        .fetch_all(&mut *tx)
        .await?;
        line_of = rows.into_iter().map(|(id, cart)| (cart, id)).collect();
        sqlx::query("UPDATE carts SET last_activity_at = now() WHERE id = ANY($1)")
            .bind(&line_carts)
            .execute(&mut *tx)
            .await?;
    }

    let grants: Vec<(usize, Ask)> = outcomes
        .iter()
        .filter_map(|(_, o)| o.as_ref().ok().cloned())
        .map(|(i, mut ask)| {
            ask.cart_item = line_of.get(&ask.cart).copied();
            (i, ask)
        })
        .collect();
    let batch = uuid::Uuid::now_v7();
    let holds =
        reservation::write_holds(&mut tx, store, &mut rows, &grants, Some(("reservation_batch", batch))).await?;
    let mut holds = holds.into_iter();

    let mut r_ids = Vec::with_capacity(outcomes.len());
    let mut r_status = Vec::with_capacity(outcomes.len());
    let mut r_line: Vec<Option<CartItemId>> = Vec::with_capacity(outcomes.len());
    let mut r_res = Vec::with_capacity(outcomes.len());
    let mut r_code: Vec<Option<&str>> = Vec::with_capacity(outcomes.len());
    for (id, o) in &outcomes {
        r_ids.push(*id);
        match o {
            Ok((_, ask)) => {
                r_line.push(line_of.get(&ask.cart).copied());
                r_status.push("done");
                r_res.push(holds.next().map(|h| h.reservation_id));
                r_code.push(None);
            }
            Err(code) => {
                r_line.push(None);
                r_status.push("failed");
                r_res.push(None);
                r_code.push(Some(code));
            }
        }
    }
    // the NOTIFY for other processes' waiters rides along (sent at commit, once per statement):
    // under load every round trip of the decider is a wait every shopper shares
    let decided: Vec<RequestRecord> = sqlx::query_as(&format!(
        "WITH announce AS MATERIALIZED (SELECT pg_notify('tenpo_hot_decided', $6))
         UPDATE inventory_reservation_requests r
            SET status = x.status, reservation_id = x.res, failure_code = x.code, cart_item_id = x.line,
                decided_at = now(), lease_expires_at = NULL, updated_at = now()
           FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::uuid[]) AS x(id, status, res, code, line),
                announce
          WHERE r.id = x.id AND r.status = 'processing' AND r.claimed_by = $6
         RETURNING {}",
        REQUEST_COLUMNS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ")
    ))
    .bind(&r_ids)
    .bind(&r_status)
    .bind(&r_res)
    .bind(&r_code)
    .bind(&r_line)
    .bind(worker)
    .fetch_all(&mut *tx)
    .await?;
    if decided.len() != r_ids.len() {
        // some were taken over: decide again on what is still ours (rolls back on drop)
        return Ok(None);
    }
    let claimed_next = match next {
        Some(spec) => claim_in(&mut tx, variant, worker, spec).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    let granted = decided.iter().filter(|r| r.status == RequestStatus::Done).count();
    metrics::counter!("tenpo_hot_decisions_total", "result" => "granted").increment(granted as u64);
    metrics::counter!("tenpo_hot_decisions_total", "result" => "refused").increment((decided.len() - granted) as u64);
    Ok(Some((decided, claimed_next)))
}

/// Decides hot-variant requests until shutdown: wakes on `tenpo_hot` notifications, on its
/// own process's queue, or every poll interval.
pub struct Decider {
    pub db: Db,
    pub queue: Option<Arc<HotQueue>>,
    pub settings: HotSettings,
    pub worker: String,
}

impl Decider {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut listener = match PgListener::connect_with(self.db.platform()).await {
            Ok(mut l) => l.listen("tenpo_hot").await.ok().map(|_| l),
            Err(_) => None,
        };
        let mut locks = match PgConnection::connect_with(&self.db.platform().connect_options()).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "hot-item decider cannot open its lock connection");
                return;
            }
        };
        if let Some(q) = &self.queue
            && let Ok(mut l) = q.local_deciders.lock()
        {
            l.insert(self.worker.clone());
        }
        tracing::info!(worker = %self.worker, "hot-item decider started");
        while !shutdown.is_cancelled() {
            let work: Vec<(TenantId, StoreId, VariantId)> =
                sqlx::query_as("SELECT tenant_id, store_id, variant_id FROM tenpo_hot_work(100)")
                    .fetch_all(self.db.platform())
                    .await
                    .unwrap_or_default();
            let mut did = false;
            for (tenant, store, variant) in work {
                match self.drain(&mut locks, tenant, store, variant).await {
                    Ok(n) => did |= n > 0,
                    Err(e) => {
                        tracing::warn!(error = %e, variant_id = %variant, "deciding hot requests failed; retrying")
                    }
                }
            }
            if did {
                continue;
            }
            let local = async {
                match &self.queue {
                    Some(q) => q.work.notified().await,
                    None => std::future::pending().await,
                }
            };
            let remote = async {
                match listener.as_mut() {
                    Some(l) => {
                        let _ = l.try_recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = local => {}
                _ = remote => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
                _ = shutdown.cancelled() => break,
            }
        }
    }

    /// Decides a variant's queue to the end, holding its advisory lock; 0 if another decider
    /// holds it.
    async fn drain(
        &self,
        locks: &mut PgConnection,
        tenant: TenantId,
        store: StoreId,
        variant: VariantId,
    ) -> Result<usize, sqlx::Error> {
        let key = lock_key(variant);
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(key).fetch_one(&mut *locks).await?;
        if !got {
            return Ok(0);
        }
        let result = async {
            let mut total = 0;
            // holding the variant's lock: any processing request is a dead decider's
            let spec =
                ClaimSpec { limit: self.settings.batch_size, lease: self.settings.lease, takeover: Takeover::Any };
            let mut claimed = Vec::new();
            loop {
                if claimed.is_empty() {
                    claimed = claim(&self.db, tenant, variant, &self.worker, spec).await?;
                }
                if claimed.is_empty() {
                    return Ok(total);
                }
                let started = Instant::now();
                let (decided, next) =
                    decide_then_claim(&self.db, tenant, store, variant, &self.worker, &claimed, Some(spec)).await?;
                tracing::debug!(requests = decided.len(), next = next.len(), elapsed = ?started.elapsed(), "hot requests decided");
                claimed = next;
                if let Some(q) = &self.queue {
                    q.resolve(&decided);
                }
                total += decided.len();
            }
        }
        .await;
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(key).execute(&mut *locks).await?;
        result
    }
}

fn lock_key(variant: VariantId) -> i64 {
    let b = variant.0.as_bytes();
    i64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]])
}
