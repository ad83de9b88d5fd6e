//! The worker side of the hot-item queue: a [`Decider`] claims a variant's queued requests and
//! decides them in arrival order, a batch per transaction (the module docs of [`super`]).

use std::collections::{HashMap, HashSet};
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
    let mut ground = Ground::read(&mut tx, store, variant, &mine, false).await?;
    let outcomes = ground.decide(variant, &mine);
    let written = write_outcomes(&mut tx, tenant, store, variant, &mut ground, &outcomes).await?;

    let r_ids: Vec<ReservationRequestId> = mine.iter().map(|c| c.id).collect();
    let r_status: Vec<&str> = written.iter().map(|w| w.status).collect();
    let r_res: Vec<Option<kernel::ReservationId>> = written.iter().map(|w| w.reservation).collect();
    let r_code: Vec<Option<&str>> = written.iter().map(|w| w.code).collect();
    let r_line: Vec<Option<CartItemId>> = written.iter().map(|w| w.line).collect();
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
    count_decisions(&decided);
    Ok(Some((decided, claimed_next)))
}

fn count_decisions(decided: &[RequestRecord]) {
    let granted = decided.iter().filter(|r| r.status == RequestStatus::Done).count();
    metrics::counter!("tenpo_hot_decisions_total", "result" => "granted").increment(granted as u64);
    metrics::counter!("tenpo_hot_decisions_total", "result" => "refused").increment((decided.len() - granted) as u64);
}

/// What a batch is decided against, read in the deciding transaction with the variant's stock
/// rows locked: the variant, the free units per row, which carts are open, what each customer
/// (or guest cart) already holds or bought.
struct Ground {
    sellable: Option<items::Sellable>,
    ttl: i32,
    rows: Vec<reservation::StockRow>,
    free: Vec<i32>,
    /// `None`: not looked at (sold out, or known open).
    open: Option<HashSet<CartId>>,
    limit: Option<i32>,
    taken_by_customer: HashMap<CustomerId, i64>,
    taken_by_cart: HashMap<CartId, i64>,
}

impl Ground {
    /// `carts_open`: the caller has just seen every cart open (and holds their rows' fate in
    /// the same transaction), so they are not looked at again.
    async fn read(
        tx: &mut db::Tx,
        store: StoreId,
        variant: VariantId,
        mine: &[Claimed],
        carts_open: bool,
    ) -> Result<Ground, sqlx::Error> {
        let carts: Vec<CartId> = mine.iter().map(|c| c.cart_id).collect();
        let sellable = items::sellable(tx, store, variant).await.ok();
        let ttl = sellable.as_ref().map_or(900, |s| s.reservation_ttl);
        let rows = reservation::lock_rows(tx, store, variant).await?;
        let free: Vec<i32> = rows.iter().map(|r| r.free()).collect();
        // whether each cart is still open matters only when something can be granted; once sold
        // out, every request is refused as such without the look
        let open = match !carts_open && sellable.is_some() && free.iter().any(|f| *f > 0) {
            true => Some(
                sqlx::query_scalar::<_, CartId>("SELECT id FROM carts WHERE id = ANY($1) AND status = 'active'")
                    .bind(&carts)
                    .fetch_all(&mut **tx)
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
            for (customer, cart, units) in items::units_taken(tx, variant, &customers, &carts).await? {
                match customer {
                    Some(c) => *taken_by_customer.entry(c).or_default() += units,
                    None => *taken_by_cart.entry(cart).or_default() += units,
                }
            }
        }
        Ok(Ground { sellable, ttl, rows, free, open, limit, taken_by_customer, taken_by_cart })
    }

    /// Decides `mine` in arrival order: grants while stock lasts at the first row that covers
    /// each quantity, refuses the rest with their reason.
    fn decide(&mut self, variant: VariantId, mine: &[Claimed]) -> Vec<Outcome> {
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(mine.len());
        for c in mine {
            let outcome = if self.sellable.is_none() {
                Err("variant_not_available")
            } else if self.open.as_ref().is_some_and(|o| !o.contains(&c.cart_id)) {
                Err("cart_not_active")
            } else {
                let taken = match c.customer_id {
                    Some(customer) => self.taken_by_customer.get(&customer).copied().unwrap_or(0),
                    None => self.taken_by_cart.get(&c.cart_id).copied().unwrap_or(0),
                };
                if self.limit.is_some_and(|l| taken + c.quantity as i64 > l as i64) {
                    Err(Refusal::LimitExceeded.code())
                } else {
                    let choice = match self.free.iter().position(|f| *f >= c.quantity) {
                        Some(i) => Ok(i),
                        None if self.free.iter().any(|f| *f > 0) => Err(Refusal::InsufficientStock.code()),
                        None => Err(Refusal::SoldOut.code()),
                    };
                    choice.map(|i| {
                        self.free[i] -= c.quantity;
                        match c.customer_id {
                            Some(customer) => *self.taken_by_customer.entry(customer).or_default() += c.quantity as i64,
                            None => *self.taken_by_cart.entry(c.cart_id).or_default() += c.quantity as i64,
                        }
                        (
                            i,
                            Ask {
                                variant,
                                quantity: c.quantity,
                                cart: c.cart_id,
                                cart_item: None,
                                customer: c.customer_id,
                                ttl_seconds: self.ttl,
                            },
                        )
                    })
                }
            };
            outcomes.push(outcome);
        }
        outcomes
    }
}

/// A decision as the request row records it.
struct Written {
    status: &'static str,
    line: Option<CartItemId>,
    reservation: Option<kernel::ReservationId>,
    code: Option<&'static str>,
}

/// Writes what the outcomes grant (one cart line upsert per cart, the holds, each stock row
/// once) and answers each outcome as its request row records it, in order.
async fn write_outcomes(
    tx: &mut db::Tx,
    tenant: TenantId,
    store: StoreId,
    variant: VariantId,
    ground: &mut Ground,
    outcomes: &[Outcome],
) -> Result<Vec<Written>, sqlx::Error> {
    // cart lines for the granted, one upsert per cart
    let mut per_cart: HashMap<CartId, i32> = HashMap::new();
    for (_, ask) in outcomes.iter().flatten() {
        *per_cart.entry(ask.cart).or_default() += ask.quantity;
    }
    let mut line_of: HashMap<CartId, CartItemId> = HashMap::new();
    if let (Some(s), false) = (&ground.sellable, per_cart.is_empty()) {
        let line_carts: Vec<CartId> = per_cart.keys().copied().collect();
        let line_qty: Vec<i32> = line_carts.iter().map(|c| per_cart[c]).collect();
        let line_ids: Vec<CartItemId> = line_carts.iter().map(|_| CartItemId::new()).collect();
        // the carts' activity rides along in the same statement
        let rows: Vec<(CartItemId, CartId)> = sqlx::query_as(
            "WITH touched AS (UPDATE carts SET last_activity_at = now() WHERE id = ANY($7))
             INSERT INTO cart_items (id, tenant_id, cart_id, vendor_id, variant_id, price_amount, price_currency, quantity)
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
        .fetch_all(&mut **tx)
        .await?;
        line_of = rows.into_iter().map(|(id, cart)| (cart, id)).collect();
    }

    let grants: Vec<(usize, Ask)> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().cloned())
        .map(|(i, mut ask)| {
            ask.cart_item = line_of.get(&ask.cart).copied();
            (i, ask)
        })
        .collect();
    let batch = uuid::Uuid::now_v7();
    let holds =
        reservation::write_holds(tx, store, &mut ground.rows, &grants, Some(("reservation_batch", batch))).await?;
    let mut holds = holds.into_iter();
    Ok(outcomes
        .iter()
        .map(|o| match o {
            Ok((_, ask)) => Written {
                status: "done",
                line: line_of.get(&ask.cart).copied(),
                reservation: holds.next().map(|h| h.reservation_id),
                code: None,
            },
            Err(code) => Written { status: "failed", line: None, reservation: None, code: Some(code) },
        })
        .collect())
}

/// A request the queue has just received, not yet recorded.
pub(crate) struct Fresh<'a> {
    pub id: ReservationRequestId,
    pub cart: CartId,
    pub secret_hash: &'a [u8],
    pub quantity: i32,
    pub key: &'a str,
}

/// The in-hand crash point (tests): the process dies just before the `n`th in-hand commit.
#[derive(Debug, Default)]
pub struct CrashPoint {
    pub before_commit: Option<u32>,
    pub commits: std::sync::atomic::AtomicU32,
}

impl CrashPoint {
    fn reached(&self) {
        if let Some(n) = self.before_commit {
            let seen = self.commits.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if seen >= n {
                tracing::error!(commit = seen, "crash point reached before an in-hand commit: aborting");
                std::process::abort();
            }
        }
    }
}

/// Decides fresh requests of one hot variant "in hand", in the queue's own transaction: when
/// no decider holds the variant (its advisory lock, taken here for the transaction) and nothing
/// is queued or claimed ahead of them, each request is recorded together with its decision, one
/// row write per request and one commit per batch. `None` (and nothing written) when it cannot
/// be: the lock is held, something waits ahead, the variant is not hot, a cart is not open with
/// its secret, or a key was seen before; the caller queues them as usual.
pub(crate) async fn decide_in_hand(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    variant: VariantId,
    worker: &str,
    fresh: &[Fresh<'_>],
    crash: &CrashPoint,
) -> Result<Option<Vec<RequestRecord>>, sqlx::Error> {
    let mut seen = HashSet::new();
    if fresh.is_empty() || !fresh.iter().all(|f| seen.insert((f.cart, f.key))) {
        return Ok(None);
    }
    let mut tx = db.begin(tenant).await?;
    let carts: Vec<CartId> = fresh.iter().map(|f| f.cart).collect();
    let hashes: Vec<&[u8]> = fresh.iter().map(|f| f.secret_hash).collect();
    let keys: Vec<&str> = fresh.iter().map(|f| f.key).collect();
    // one row per request whose cart is open with its secret, each saying whether the batch is
    // clear: the variant's lock is ours, the variant is hot and sellable on the queue, nothing
    // waits ahead, no key is known. The decider takes the same lock for its whole drain:
    // holding it, no decider is deciding this variant. It is taken in this statement, after its
    // snapshot, so what is queued or claimed is seen as of just before the lock; a decider
    // that was still draining then has requests `processing` (or queued) in that snapshot, and
    // one that finished had decided them all, so "nothing ahead" holds as with a look after the
    // lock. The batcher is the only writer of this process's queued requests and is here.
    let open: Vec<(i64, Option<CustomerId>, bool)> = sqlx::query_as(
        "WITH lock AS MATERIALIZED (SELECT pg_try_advisory_xact_lock($6) AS ours)
         SELECT x.n, c.customer_id,
                (lock.ours
                 AND EXISTS (SELECT 1 FROM variants v WHERE v.id = $4 AND v.store_id = $3 AND v.is_hot
                          AND v.fulfillment_type = 'physical' AND v.status = 'active' AND v.deleted_at IS NULL)
                 AND NOT EXISTS (SELECT 1 FROM inventory_reservation_requests q
                                  WHERE q.variant_id = $4 AND q.status IN ('queued', 'processing'))
                 AND NOT EXISTS (SELECT 1 FROM inventory_reservation_requests r
                                   JOIN unnest($1::uuid[], $5::text[]) AS k(cart_id, key)
                                     ON r.cart_id = k.cart_id AND r.idempotency_key = k.key)) AS clear
           FROM lock, unnest($1::uuid[], $2::bytea[]) WITH ORDINALITY AS x(cart_id, hash, n)
           JOIN carts c ON c.id = x.cart_id AND c.secret_hash = x.hash AND c.status = 'active' AND c.store_id = $3
          ORDER BY x.n",
    )
    .bind(&carts)
    .bind(&hashes)
    .bind(store)
    .bind(variant)
    .bind(&keys)
    .bind(lock_key(variant))
    .fetch_all(&mut *tx)
    .await?;
    if open.len() != fresh.len() || !open.iter().all(|(_, _, clear)| *clear) {
        return Ok(None);
    }
    let mine: Vec<Claimed> = fresh
        .iter()
        .zip(&open)
        .map(|(f, (_, customer, _))| Claimed {
            id: f.id,
            cart_id: f.cart,
            customer_id: *customer,
            quantity: f.quantity,
        })
        .collect();
    let mut ground = Ground::read(&mut tx, store, variant, &mine, true).await?;
    let outcomes = ground.decide(variant, &mine);
    let written = write_outcomes(&mut tx, tenant, store, variant, &mut ground, &outcomes).await?;
    let ids: Vec<ReservationRequestId> = mine.iter().map(|c| c.id).collect();
    let customers: Vec<Option<CustomerId>> = mine.iter().map(|c| c.customer_id).collect();
    let quantities: Vec<i32> = mine.iter().map(|c| c.quantity).collect();
    let status: Vec<&str> = written.iter().map(|w| w.status).collect();
    let res: Vec<Option<kernel::ReservationId>> = written.iter().map(|w| w.reservation).collect();
    let code: Vec<Option<&str>> = written.iter().map(|w| w.code).collect();
    let line: Vec<Option<CartItemId>> = written.iter().map(|w| w.line).collect();
    let decided: Vec<RequestRecord> = sqlx::query_as(&format!(
        "INSERT INTO inventory_reservation_requests
           (id, tenant_id, store_id, cart_id, variant_id, customer_id, quantity, status, is_hot, idempotency_key,
            reservation_id, failure_code, cart_item_id, claimed_by, attempts, decided_at)
         SELECT x.id, $1, $2, x.cart_id, $3, x.customer_id, x.quantity, x.status, true, x.key,
                x.res, x.code, x.line, $4, 1, now()
           FROM unnest($5::uuid[], $6::uuid[], $7::uuid[], $8::int[], $9::text[], $10::text[], $11::uuid[], $12::text[], $13::uuid[])
                AS x(id, cart_id, customer_id, quantity, key, status, res, code, line)
         ON CONFLICT (cart_id, idempotency_key) DO NOTHING
         RETURNING {REQUEST_COLUMNS}"
    ))
    .bind(tenant)
    .bind(store)
    .bind(variant)
    .bind(worker)
    .bind(&ids)
    .bind(&carts)
    .bind(&customers)
    .bind(&quantities)
    .bind(&keys)
    .bind(&status)
    .bind(&res)
    .bind(&code)
    .bind(&line)
    .fetch_all(&mut *tx)
    .await?;
    if decided.len() != fresh.len() {
        // a key arrived through another process meanwhile: queue them instead (rolls back)
        return Ok(None);
    }
    crash.reached();
    tx.commit().await?;
    count_decisions(&decided);
    Ok(Some(decided))
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
            // a store the database's workers leave alone (a move in progress) is decided where
            // it is served from after the switch
            let skip = match self.db.stores_left_alone().await {
                Ok(skip) => skip,
                Err(_) => work.iter().map(|(_, store, _)| *store).collect(),
            };
            for (tenant, store, variant) in work {
                if skip.contains(&store) {
                    continue;
                }
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
