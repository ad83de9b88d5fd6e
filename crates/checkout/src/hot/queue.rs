//! The API side of the hot-item queue: add-to-cart for a hot variant is submitted here, the
//! batcher records submissions in batches, and each caller waits for its decision (woken by
//! the decider of this process, or by `NOTIFY tenpo_hot_decided` from another).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use db::Db;
use kernel::{CartId, CartItemId, ReservationRequestId, StoreId, TenantId, VariantId};
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::decider::{CrashPoint, Fresh, decide_in_hand};
use super::thread::apart;
use crate::CheckoutError;
use crate::cart::CartKey;
use crate::items::{REQUEST_COLUMNS, RequestRecord, RequestStatus};

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
    pub(super) local_deciders: Mutex<std::collections::HashSet<String>>,
    settings: QueueSettings,
    crash: CrashPoint,
}

/// How the queue records what it receives.
#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    /// Decide a batch in the queue's own transaction when nothing waits ahead of it for its
    /// variant and no decider holds it (`TENPO_HOT_IN_HAND`); off, every request is queued for
    /// the decider.
    pub in_hand: bool,
    /// Tests only: the process aborts just before its `n`th in-hand commit
    /// (`TENPO_HOT_CRASH_BEFORE_IN_HAND_COMMIT`).
    pub crash_before_in_hand_commit: Option<u32>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings { in_hand: true, crash_before_in_hand_commit: None }
    }
}

const HOT_FLAG_TTL: Duration = Duration::from_secs(10);

/// Requests recorded per transaction. Big enough to spread a transaction's cost thin, small
/// enough that a crowd arriving at once is recorded in a few batches, so deciding the first
/// overlaps recording the next (one batch of everything measured slower in the flash-sale bench).
const INSERT_BATCH: usize = 128;

/// A batch smaller than this, after a batch at least as big, waits a moment for company.
const LINGER_BELOW: usize = 8;

/// `claimed_by` of the requests the queue decided in hand.
pub const IN_HAND: &str = "in-hand";

impl HotQueue {
    pub fn new(db: Db) -> Arc<HotQueue> {
        HotQueue::with_settings(db, QueueSettings::default())
    }

    pub fn with_settings(db: Db, settings: QueueSettings) -> Arc<HotQueue> {
        let (tx, rx) = mpsc::channel(20_000);
        Arc::new(HotQueue {
            db,
            submissions: tx,
            inbox: Mutex::new(Some(rx)),
            waiters: Mutex::new(HashMap::new()),
            work: Notify::new(),
            hot: Mutex::new(HashMap::new()),
            local_deciders: Mutex::new(Default::default()),
            settings,
            crash: CrashPoint { before_commit: settings.crash_before_in_hand_commit, ..Default::default() },
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
            // only requests left queued are a decider's work: a batch decided in hand wakes none
            let mut queued = false;
            // by variant too: a variant's batch may be decided in hand, apart from the others
            let mut groups: HashMap<(TenantId, StoreId, VariantId), Vec<Submission>> = HashMap::new();
            for s in batch {
                groups.entry((s.tenant, s.store, s.variant)).or_default().push(s);
            }
            for ((tenant, store, variant), mut group) in groups {
                // ids in the order requests reached the queue: the order they are decided in
                let ids: Vec<ReservationRequestId> = group.iter().map(|_| ReservationRequestId::new()).collect();
                // waiting before the rows exist: a decider may answer the moment they commit
                if let Ok(mut w) = self.waiters.lock() {
                    for (id, s) in ids.iter().zip(group.iter_mut()) {
                        w.insert(*id, (tenant, s.decision.take().into_iter().collect()));
                    }
                }
                let started = Instant::now();
                let answers = match self.in_hand(&db, tenant, store, variant, &ids, &group).await {
                    Some(decided) => {
                        // the waiters registered above have their decisions before their replies
                        self.resolve(&decided);
                        Ok(vec![Submitted::Queued; group.len()])
                    }
                    None => {
                        let answers = insert_group(&db, tenant, store, &ids, &group).await;
                        queued |= answers.as_ref().is_ok_and(|a| a.iter().any(|a| matches!(a, Submitted::Queued)));
                        answers
                    }
                };
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
            if queued {
                self.work.notify_waiters();
            }
        }
    }

    /// The group decided in hand ([`decide_in_hand`]), or `None`: queue it.
    async fn in_hand(
        &self,
        db: &Db,
        tenant: TenantId,
        store: StoreId,
        variant: VariantId,
        ids: &[ReservationRequestId],
        group: &[Submission],
    ) -> Option<Vec<RequestRecord>> {
        if !self.settings.in_hand {
            return None;
        }
        let fresh: Vec<Fresh> = ids
            .iter()
            .zip(group)
            .map(|(id, s)| Fresh {
                id: *id,
                cart: s.cart,
                secret_hash: &s.secret_hash,
                quantity: s.quantity,
                key: &s.key,
            })
            .collect();
        match decide_in_hand(db, tenant, store, variant, IN_HAND, &fresh, &self.crash).await {
            Ok(decided) => decided,
            Err(e) => {
                tracing::warn!(error = %e, variant_id = %variant, "deciding hot requests in hand failed; queueing them");
                None
            }
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
