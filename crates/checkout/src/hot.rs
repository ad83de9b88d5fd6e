//! The hot-item queue: flash-sale variants never take a stock-row lock per shopper.
//!
//! **Asking.** Add-to-cart for a hot variant records an inventory_reservation_requests row
//! (`queued`, keyed by the cart's Idempotency-Key). A [`HotQueue`] in each API process batches
//! those inserts: submissions that arrive while one insert is running go into the next, so a
//! thousand shoppers cost a handful of transactions. Each request's id is a UUIDv7 taken when
//! it arrives, which is the order it is decided in.
//!
//! **Deciding.** A [`Decider`] in the worker takes a per-variant advisory lock (one decider per
//! variant, so arrival order holds), claims up to a batch of queued requests with a lease
//! (`processing`, `claimed_by`, `lease_expires_at`; committed), then decides the whole batch in
//! one transaction: grants while stock lasts at the first location that covers each quantity,
//! refuses the rest (`sold_out`, `insufficient_stock`, `limit_exceeded`), writes the
//! reservations and cart lines, and updates each stock row once. A decider that dies after
//! claiming leaves its requests `processing`. The next decider to take the variant's lock takes
//! them over at once, in arrival order with the queued ones: holding the lock, any `processing`
//! request it finds is a dead decider's (the lease only guards claims made without the lock).
//! The decision transaction writes only requests still claimed by itself (and starts over on
//! those if any was taken over), so a request is decided exactly once.
//!
//! **Answering.** The HTTP call waits briefly for its decision: the decider in the same
//! process wakes it directly, deciders elsewhere through `NOTIFY tenpo_hot_decided`. If no
//! decision comes in time the caller gets 202 and polls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use db::Db;
use inventory::reservation::{self, Ask, Refusal};
use kernel::{CartId, CartItemId, CustomerId, ReservationRequestId, StoreId, TenantId, VariantId};
use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgListener};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::cart::CartKey;
use crate::items::{REQUEST_COLUMNS, RequestRecord, RequestStatus};
use crate::{CheckoutError, items};

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

/// What a caller learns from the queue.
#[derive(Debug, Clone)]
pub enum HotAnswer {
    Decided(RequestRecord),
    /// Not decided in time: poll it.
    Pending(ReservationRequestId),
    /// Not for the queue: take the normal path.
    Rejected,
}

/// The answer to a submission.
#[derive(Debug, Clone)]
enum Submitted {
    /// Recorded; wait for its decision.
    Queued,
    /// The Idempotency-Key was seen before on this cart: its request.
    Existing(RequestRecord),
    /// Not for the queue (cart not open with this secret, or the variant is not hot): take the
    /// normal path, which answers precisely.
    Rejected,
}

struct Submission {
    tenant: TenantId,
    store: StoreId,
    cart: CartId,
    secret_hash: Vec<u8>,
    variant: VariantId,
    quantity: i32,
    key: String,
    reply: oneshot::Sender<Result<(ReservationRequestId, Submitted), String>>,
    /// Where the decision goes, registered by the batcher before the request exists.
    decision: Option<oneshot::Sender<RequestRecord>>,
}

type Waiters = HashMap<ReservationRequestId, (TenantId, Vec<oneshot::Sender<RequestRecord>>)>;

/// Batches hot add-to-cart requests and hands callers their decisions.
pub struct HotQueue {
    db: Db,
    submissions: mpsc::Sender<Submission>,
    inbox: Mutex<Option<mpsc::Receiver<Submission>>>,
    waiters: Mutex<Waiters>,
    /// Wakes the deciders of this process when requests were recorded.
    pub work: Notify,
    hot: Mutex<HashMap<VariantId, (bool, Instant)>>,
    /// The deciders of this process: they answer waiters directly, so their notifications
    /// need no look in the database.
    local_deciders: Mutex<std::collections::HashSet<String>>,
}

const HOT_FLAG_TTL: Duration = Duration::from_secs(10);

/// Requests recorded per transaction. Big enough to spread a transaction's cost thin, small
/// enough that a crowd arriving at once is recorded in a few batches, so deciding the first
/// overlaps recording the next (one batch of everything measured slower in the flash-sale bench).
const INSERT_BATCH: usize = 128;

/// A batch smaller than this, after a batch at least as big, waits a moment for company.
const LINGER_BELOW: usize = 8;

impl HotQueue {
    pub fn new(db: Db) -> Arc<HotQueue> {
        let (tx, rx) = mpsc::channel(20_000);
        Arc::new(HotQueue {
            db,
            submissions: tx,
            inbox: Mutex::new(Some(rx)),
            waiters: Mutex::new(HashMap::new()),
            work: Notify::new(),
            hot: Mutex::new(HashMap::new()),
            local_deciders: Mutex::new(Default::default()),
        })
    }

    /// Starts the batcher and the decision listener; they stop with `shutdown`.
    pub fn spawn(self: &Arc<Self>, shutdown: CancellationToken) {
        let rx = self.inbox.lock().ok().and_then(|mut i| i.take());
        if let Some(rx) = rx {
            let (queue, stop) = (self.clone(), shutdown.clone());
            tokio::spawn(apart("hot-item batcher", move || async move {
                let db = queue.db.own_pool(2);
                queue.batch_inserts(rx, db, stop).await
            }));
        }
        tokio::spawn(self.clone().listen_for_decisions(shutdown));
    }

    /// Whether a variant was last seen hot (so its add-to-cart should be submitted here).
    pub fn known_hot(&self, variant: VariantId) -> bool {
        self.hot
            .lock()
            .ok()
            .and_then(|h| h.get(&variant).copied())
            .is_some_and(|(hot, at)| hot && at.elapsed() < HOT_FLAG_TTL)
    }

    pub fn remember(&self, variant: VariantId, hot: bool) {
        if let Ok(mut h) = self.hot.lock() {
            if h.len() > 100_000 {
                h.clear();
            }
            h.insert(variant, (hot, Instant::now()));
        }
    }

    /// Records a hot add-to-cart and waits up to `timeout` for its decision.
    #[allow(clippy::too_many_arguments)]
    pub async fn submit_and_wait(
        &self,
        tenant: TenantId,
        store: StoreId,
        cart: &CartKey,
        variant: VariantId,
        quantity: i32,
        key: String,
        timeout: Duration,
    ) -> Result<HotAnswer, CheckoutError> {
        let (decision, rx) = oneshot::channel();
        match self.submit(tenant, store, cart, variant, quantity, key, decision).await {
            Ok((id, Submitted::Queued)) => match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(record)) => Ok(HotAnswer::Decided(record)),
                _ => {
                    self.forget(id);
                    Ok(HotAnswer::Pending(id))
                }
            },
            Ok((_, Submitted::Existing(record))) => {
                if record.variant_id != variant || record.quantity != quantity {
                    return Err(CheckoutError::IdempotencyKeyReused);
                }
                if matches!(record.status, RequestStatus::Done | RequestStatus::Failed) {
                    return Ok(HotAnswer::Decided(record));
                }
                match self.wait(tenant, record.id, timeout).await? {
                    Some(r) => Ok(HotAnswer::Decided(r)),
                    None => Ok(HotAnswer::Pending(record.id)),
                }
            }
            Ok((_, Submitted::Rejected)) => Ok(HotAnswer::Rejected),
            Err(e) => Err(e),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn submit(
        &self,
        tenant: TenantId,
        store: StoreId,
        cart: &CartKey,
        variant: VariantId,
        quantity: i32,
        key: String,
        decision: oneshot::Sender<RequestRecord>,
    ) -> Result<(ReservationRequestId, Submitted), CheckoutError> {
        let (reply, answer) = oneshot::channel();
        let s = Submission {
            tenant,
            store,
            cart: cart.id,
            secret_hash: cart.secret_hash(),
            variant,
            quantity,
            key,
            reply,
            decision: Some(decision),
        };
        self.submissions.send(s).await.map_err(|_| CheckoutError::Db(sqlx::Error::PoolClosed))?;
        match answer.await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(CheckoutError::Db(sqlx::Error::Protocol(e))),
            Err(_) => Err(CheckoutError::Db(sqlx::Error::PoolClosed)),
        }
    }

    /// Waits up to `timeout` for a request's decision; `None` if it is still pending.
    pub async fn wait(
        &self,
        tenant: TenantId,
        id: ReservationRequestId,
        timeout: Duration,
    ) -> Result<Option<RequestRecord>, sqlx::Error> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiters.lock() {
            w.entry(id).or_insert_with(|| (tenant, Vec::new())).1.push(tx);
        }
        // decided before we registered?
        let mut t = self.db.begin(tenant).await?;
        let now: Option<RequestRecord> =
            sqlx::query_as(&format!("SELECT {REQUEST_COLUMNS} FROM inventory_reservation_requests WHERE id = $1"))
                .bind(id)
                .fetch_optional(&mut *t)
                .await?;
        t.commit().await?;
        if let Some(r) = now.filter(|r| matches!(r.status, RequestStatus::Done | RequestStatus::Failed)) {
            self.forget(id);
            return Ok(Some(r));
        }
        let got = tokio::time::timeout(timeout, rx).await.ok().and_then(Result::ok);
        if got.is_none() {
            self.forget(id);
        }
        Ok(got)
    }

    fn forget(&self, id: ReservationRequestId) {
        if let Ok(mut w) = self.waiters.lock() {
            w.remove(&id);
        }
    }

    /// Hands decided requests to whoever waits for them.
    pub fn resolve(&self, decided: &[RequestRecord]) {
        let Ok(mut w) = self.waiters.lock() else { return };
        for r in decided {
            if let Some((_, senders)) = w.remove(&r.id) {
                for s in senders {
                    let _ = s.send(r.clone());
                }
            }
        }
    }

    async fn batch_inserts(self: Arc<Self>, mut rx: mpsc::Receiver<Submission>, db: Db, shutdown: CancellationToken) {
        let drain = |rx: &mut mpsc::Receiver<Submission>, batch: &mut Vec<Submission>| {
            while batch.len() < INSERT_BATCH {
                match rx.try_recv() {
                    Ok(s) => batch.push(s),
                    Err(_) => break,
                }
            }
        };
        let mut last = 0;
        loop {
            let first = tokio::select! {
                s = rx.recv() => match s { Some(s) => s, None => return },
                _ = shutdown.cancelled() => return,
            };
            let mut batch = vec![first];
            drain(&mut rx, &mut batch);
            if batch.len() < LINGER_BELOW && last >= LINGER_BELOW {
                // under load, shoppers answered by one decision come back together: the first
                // of them waits a moment for the rest instead of taking a transaction alone
                tokio::time::sleep(Duration::from_millis(1)).await;
                drain(&mut rx, &mut batch);
            }
            last = batch.len();
            let mut groups: HashMap<(TenantId, StoreId), Vec<Submission>> = HashMap::new();
            for s in batch {
                groups.entry((s.tenant, s.store)).or_default().push(s);
            }
            for ((tenant, store), mut group) in groups {
                // ids in the order requests reached the queue: the order they are decided in
                let ids: Vec<ReservationRequestId> = group.iter().map(|_| ReservationRequestId::new()).collect();
                // waiting before the rows exist: a decider may answer the moment they commit
                if let Ok(mut w) = self.waiters.lock() {
                    for (id, s) in ids.iter().zip(group.iter_mut()) {
                        w.insert(*id, (tenant, s.decision.take().into_iter().collect()));
                    }
                }
                let started = Instant::now();
                let answers = insert_group(&db, tenant, store, &ids, &group).await;
                tracing::debug!(requests = group.len(), elapsed = ?started.elapsed(), "hot requests recorded");
                match answers {
                    Ok(answers) => {
                        let mut w = self.waiters.lock().ok();
                        for ((s, a), id) in group.into_iter().zip(answers).zip(ids) {
                            if let (false, Some(w)) = (matches!(a, Submitted::Queued), w.as_mut()) {
                                w.remove(&id);
                            }
                            let _ = s.reply.send(Ok((id, a)));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "recording hot add-to-cart requests failed");
                        if let Ok(mut w) = self.waiters.lock() {
                            for id in &ids {
                                w.remove(id);
                            }
                        }
                        for s in group {
                            let _ = s.reply.send(Err(e.to_string()));
                        }
                    }
                }
            }
            self.work.notify_waiters();
        }
    }

    async fn listen_for_decisions(self: Arc<Self>, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let mut listener = match PgListener::connect_with(self.db.platform()).await {
                Ok(l) => l,
                Err(_) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if listener.listen("tenpo_hot_decided").await.is_err() {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            loop {
                tokio::select! {
                    n = listener.try_recv() => match n {
                        Ok(Some(n)) => {
                            let local = self.local_deciders.lock().is_ok_and(|l| l.contains(n.payload()));
                            if !local {
                                self.check_pending().await
                            }
                        }
                        _ => break,
                    },
                    // a missed notification must not strand a waiter: look now and then
                    _ = tokio::time::sleep(Duration::from_millis(250)) => self.check_pending().await,
                    _ = shutdown.cancelled() => return,
                }
            }
        }
    }

    /// Reads the decisions of every waiting request (decided by another process).
    async fn check_pending(&self) {
        let pending: HashMap<TenantId, Vec<ReservationRequestId>> = match self.waiters.lock() {
            Ok(w) if !w.is_empty() => {
                let mut by_tenant: HashMap<TenantId, Vec<ReservationRequestId>> = HashMap::new();
                for (id, (t, _)) in w.iter() {
                    by_tenant.entry(*t).or_default().push(*id);
                }
                by_tenant
            }
            _ => return,
        };
        for (tenant, ids) in pending {
            let Ok(mut tx) = self.db.begin(tenant).await else { continue };
            let decided: Vec<RequestRecord> = sqlx::query_as(&format!(
                "SELECT {REQUEST_COLUMNS} FROM inventory_reservation_requests WHERE id = ANY($1) AND status IN ('done', 'failed')"
            ))
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await
            .unwrap_or_default();
            let _ = tx.commit().await;
            self.resolve(&decided);
        }
    }
}

/// Runs `task` on a thread and runtime of its own, until it ends. The queue's batcher and
/// decider run so: every shopper of a flash sale waits on their round trips, which on the API's
/// runtime would queue behind the shoppers' requests themselves. Database pools belong to the
/// runtime that opens their connections, so `task` opens its own ([`Db::own_pool`]).
pub async fn apart<F, Fut>(name: &'static str, task: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let ran =
        tokio::task::spawn_blocking(move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(task()),
            Err(e) => tracing::error!(error = %e, task = name, "cannot start a runtime"),
        })
        .await;
    if let Err(e) = ran {
        tracing::error!(error = %e, task = name, "stopped abnormally");
    }
}

/// Inserts one tenant's and store's submissions in one statement: only rows whose cart is
/// open with the given secret and whose variant is hot go in; a repeated Idempotency-Key
/// answers the request it first made.
async fn insert_group(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    ids: &[ReservationRequestId],
    group: &[Submission],
) -> Result<Vec<Submitted>, sqlx::Error> {
    let carts: Vec<CartId> = group.iter().map(|s| s.cart).collect();
    let hashes: Vec<Vec<u8>> = group.iter().map(|s| s.secret_hash.clone()).collect();
    let variants: Vec<VariantId> = group.iter().map(|s| s.variant).collect();
    let quantities: Vec<i32> = group.iter().map(|s| s.quantity).collect();
    let keys: Vec<String> = group.iter().map(|s| s.key.clone()).collect();
    let mut tx = db.begin(tenant).await?;
    let inserted: Vec<ReservationRequestId> = sqlx::query_scalar(
        "INSERT INTO inventory_reservation_requests
           (id, tenant_id, store_id, cart_id, variant_id, customer_id, quantity, status, is_hot, idempotency_key)
         SELECT x.id, $1, $2, x.cart_id, x.variant_id, c.customer_id, x.quantity, 'queued', true, x.key
           FROM unnest($3::uuid[], $4::uuid[], $5::bytea[], $6::uuid[], $7::int[], $8::text[])
                WITH ORDINALITY AS x(id, cart_id, hash, variant_id, quantity, key, n)
           JOIN carts c ON c.id = x.cart_id AND c.secret_hash = x.hash AND c.status = 'active' AND c.store_id = $2
           JOIN variants v ON v.id = x.variant_id AND v.store_id = $2 AND v.is_hot AND v.fulfillment_type = 'physical'
                          AND v.status = 'active' AND v.deleted_at IS NULL
          ORDER BY x.n
         ON CONFLICT (cart_id, idempotency_key) DO NOTHING
         RETURNING id",
    )
    .bind(tenant)
    .bind(store)
    .bind(ids)
    .bind(&carts)
    .bind(&hashes)
    .bind(&variants)
    .bind(&quantities)
    .bind(&keys)
    .fetch_all(&mut *tx)
    .await?;
    let inserted: std::collections::HashSet<ReservationRequestId> = inserted.into_iter().collect();
    let missing: Vec<usize> = (0..group.len()).filter(|i| !inserted.contains(&ids[*i])).collect();
    let mut existing: HashMap<(CartId, String), RequestRecord> = HashMap::new();
    if !missing.is_empty() {
        let m_carts: Vec<CartId> = missing.iter().map(|i| carts[*i]).collect();
        let m_hashes: Vec<Vec<u8>> = missing.iter().map(|i| hashes[*i].clone()).collect();
        let m_keys: Vec<String> = missing.iter().map(|i| keys[*i].clone()).collect();
        let rows: Vec<(String, RequestRecord)> = sqlx::query_as::<_, RecordWithKey>(
            "SELECT r.idempotency_key, r.id, r.cart_id, r.variant_id, r.quantity, r.status, r.is_hot, r.cart_item_id,
                    r.reservation_id, r.failure_code, r.created_at, r.decided_at
               FROM inventory_reservation_requests r
               JOIN unnest($1::uuid[], $2::bytea[], $3::text[]) AS x(cart_id, hash, key)
                 ON r.cart_id = x.cart_id AND r.idempotency_key = x.key
               JOIN carts c ON c.id = r.cart_id AND c.secret_hash = x.hash",
        )
        .bind(&m_carts)
        .bind(&m_hashes)
        .bind(&m_keys)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.idempotency_key.clone(), r.into_record()))
        .collect();
        for (key, record) in rows {
            existing.insert((record.cart_id, key), record);
        }
    }
    tx.commit().await?;
    Ok((0..group.len())
        .map(|i| {
            if inserted.contains(&ids[i]) {
                Submitted::Queued
            } else {
                match existing.get(&(carts[i], keys[i].clone())) {
                    Some(r) => Submitted::Existing(r.clone()),
                    None => Submitted::Rejected,
                }
            }
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct RecordWithKey {
    idempotency_key: String,
    id: ReservationRequestId,
    cart_id: CartId,
    variant_id: VariantId,
    quantity: i32,
    status: RequestStatus,
    is_hot: bool,
    cart_item_id: Option<CartItemId>,
    reservation_id: Option<kernel::ReservationId>,
    failure_code: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    decided_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl RecordWithKey {
    fn into_record(self) -> RequestRecord {
        RequestRecord {
            id: self.id,
            cart_id: self.cart_id,
            variant_id: self.variant_id,
            quantity: self.quantity,
            status: self.status,
            is_hot: self.is_hot,
            cart_item_id: self.cart_item_id,
            reservation_id: self.reservation_id,
            failure_code: self.failure_code,
            created_at: self.created_at,
            decided_at: self.decided_at,
        }
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
