//! A read cache for storefront answers, invalidated by the database.
//!
//! Every change to a store's products, variants, locations or settings fires
//! `NOTIFY tenpo_catalog, '<store id>'` at commit (migration 0007). A listener task bumps that
//! store's generation; an entry is served only while its store's generation is the one seen
//! *before* the entry's data was read, so an answer computed from data older than a change is
//! never served after the change has been heard. If the listening connection fails, the cache
//! is emptied and bypassed until it listens again. Entries also expire after a short time to
//! live (default 5 s). The cache holds a bounded number of entries.
//!
//! Stock is different: every add-to-cart and every order moves a stock row, so dropping the
//! store's pages on each change would switch the cache off on a busy store (and a NOTIFY per
//! stock change would serialise their commits). Stock changes announce nothing (migration
//! 202612011850); an answer that shows availability ([`ReadCache::get_or_compute`]) is served
//! for at most [`STOCK_STALENESS`] from when its read began, then read again. So a sold-out
//! variant shows as such within a second, whatever changed the stock (an order, an
//! adjustment, a hold that expired), and each page costs at most one read a second however
//! busy the store is.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use kernel::{StoreId, TenantId};
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

const MAX_ENTRIES: usize = 50_000;

/// How long an answer that shows availability is served: the storefront's staleness bound
/// for stock.
pub const STOCK_STALENESS: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Cached {
    pub etag: Arc<str>,
    pub body: Bytes,
}

impl Cached {
    /// An answer body with its ETag (a hash of the body).
    pub fn of(body: Vec<u8>) -> Cached {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(&body);
        Cached { etag: format!("\"{}\"", hex::encode(&digest[..16])).into(), body: body.into() }
    }
}

struct Entry {
    value: Cached,
    generation: u64,
    /// When reading its data began (answers that show stock) or when it was stored.
    at: Instant,
    /// How long it is served: the TTL, or less for answers that show stock.
    lives: Duration,
}

/// The store a host name is the domain of (or none), the epoch it was read at, and when.
type HostEntry = (Option<(TenantId, StoreId)>, u64, Instant);

#[derive(Default)]
struct Inner {
    entries: HashMap<(StoreId, String), Entry>,
    generations: HashMap<StoreId, u64>,
    /// store reference (handle or id text) -> (tenant, store, active)
    stores: HashMap<String, (TenantId, StoreId, bool, u64, Instant)>,
    /// host name -> the store whose domain it is (or none), with the epoch it was read at
    hosts: HashMap<String, HostEntry>,
    /// bumped by every store's change: a host entry (even "no store") read before is stale
    epoch: u64,
}

/// The answer of a computation under way: `None` until it is done.
type InFlight = tokio::sync::watch::Receiver<Option<Cached>>;

pub struct ReadCache {
    inner: RwLock<Inner>,
    listening: AtomicBool,
    ttl: Duration,
    /// Answers being computed: later askers wait for the first one's answer instead of all
    /// going to the database at once after an invalidation.
    inflight: std::sync::Mutex<HashMap<(StoreId, String), InFlight>>,
}

impl ReadCache {
    /// A cache whose entries live at most `ttl`; zero turns caching off.
    pub fn new(ttl: Duration) -> Self {
        ReadCache { inner: RwLock::default(), listening: AtomicBool::new(false), ttl, inflight: Default::default() }
    }

    fn live(&self) -> bool {
        !self.ttl.is_zero() && self.listening.load(Ordering::Acquire)
    }

    /// `off`, `listening` (serving from memory) or `starting` (not yet listening: uncached).
    pub fn state(&self) -> &'static str {
        if self.ttl.is_zero() {
            "off"
        } else if self.listening.load(Ordering::Acquire) {
            "listening"
        } else {
            "starting"
        }
    }

    /// The generation to remember before reading a store's data from the database.
    pub fn generation(&self, store: StoreId) -> u64 {
        self.inner.read().map(|i| i.generations.get(&store).copied().unwrap_or(0)).unwrap_or(u64::MAX)
    }

    pub fn get(&self, store: StoreId, key: &str) -> Option<Cached> {
        if !self.live() {
            return None;
        }
        let inner = self.inner.read().ok()?;
        let current = inner.generations.get(&store).copied().unwrap_or(0);
        let e = inner.entries.get(&(store, key.to_string()))?;
        (e.generation == current && e.at.elapsed() < e.lives).then(|| e.value.clone())
    }

    /// Stores an answer that shows no stock: it lives the TTL.
    pub fn put(&self, store: StoreId, key: String, generation: u64, value: Cached) {
        self.put_entry(store, key, Entry { value, generation, at: Instant::now(), lives: self.ttl });
    }

    fn put_entry(&self, store: StoreId, key: String, entry: Entry) {
        if !self.live() {
            return;
        }
        let Ok(mut inner) = self.inner.write() else { return };
        if inner.generations.get(&store).copied().unwrap_or(0) != entry.generation {
            return; // the data changed while this answer was being computed
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert((store, key), entry);
    }

    /// The cached answer, or the answer of a computation already under way for the same key,
    /// or a new computation by `load`. The answer may show stock: it lives at most
    /// [`STOCK_STALENESS`] from when `load` began. A failed computation is not shared: each waiter then
    /// computes its own (and gets its own error).
    pub async fn get_or_compute<F, Fut, E>(&self, store: StoreId, key: String, load: F) -> Result<Cached, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<u8>, E>>,
    {
        if let Some(hit) = self.get(store, &key) {
            return Ok(hit);
        }
        if !self.live() {
            return load().await.map(Cached::of);
        }
        let existing = self.inflight.lock().ok().and_then(|m| m.get(&(store, key.clone())).cloned());
        if let Some(mut rx) = existing {
            // someone is computing it: wait for their answer
            loop {
                if let Some(v) = rx.borrow().clone() {
                    return Ok(v);
                }
                if rx.changed().await.is_err() {
                    break; // they failed: compute our own
                }
            }
            return load().await.map(Cached::of);
        }
        let (tx, rx) = tokio::sync::watch::channel(None);
        if let Ok(mut m) = self.inflight.lock() {
            m.insert((store, key.clone()), rx);
        }
        // the generation before reading: a change heard meanwhile keeps this answer out
        let (generation, at) = (self.generation(store), Instant::now());
        let result = load().await.map(Cached::of);
        if let Ok(mut m) = self.inflight.lock() {
            m.remove(&(store, key.clone()));
        }
        if let Ok(v) = &result {
            let _ = tx.send(Some(v.clone()));
            let lives = self.ttl.min(STOCK_STALENESS);
            self.put_entry(store, key, Entry { value: v.clone(), generation, at, lives });
        }
        result
    }

    /// Cached pieces of answers (a product as the storefront shows it, for search results), by
    /// key, in the order asked; `None` for each one not cached (all of them when the cache is
    /// off). Pieces show stock: like [`ReadCache::get_or_compute`]'s answers they are served
    /// while their store's generation holds, for at most [`STOCK_STALENESS`].
    pub fn get_pieces(&self, store: StoreId, keys: &[String]) -> Vec<Option<Bytes>> {
        if !self.live() {
            return vec![None; keys.len()];
        }
        let Ok(inner) = self.inner.read() else { return vec![None; keys.len()] };
        let current = inner.generations.get(&store).copied().unwrap_or(0);
        keys.iter()
            .map(|k| {
                let e = inner.entries.get(&(store, k.clone()))?;
                (e.generation == current && e.at.elapsed() < e.lives).then(|| e.value.body.clone())
            })
            .collect()
    }

    /// Stores pieces read from the database after [`ReadCache::generation`] gave `generation`,
    /// the read having begun at `at`.
    pub fn put_pieces(&self, store: StoreId, generation: u64, at: Instant, pieces: Vec<(String, Bytes)>) {
        if !self.live() {
            return;
        }
        let lives = self.ttl.min(STOCK_STALENESS);
        let Ok(mut inner) = self.inner.write() else { return };
        if inner.generations.get(&store).copied().unwrap_or(0) != generation {
            return; // the data changed while the pieces were being read
        }
        if inner.entries.len() + pieces.len() > MAX_ENTRIES {
            inner.entries.clear();
        }
        for (key, body) in pieces {
            let value = Cached { etag: Arc::from(""), body };
            inner.entries.insert((store, key), Entry { value, generation, at, lives });
        }
    }

    pub fn get_store(&self, reference: &str) -> Option<(TenantId, StoreId, bool)> {
        if !self.live() {
            return None;
        }
        let inner = self.inner.read().ok()?;
        let (t, s, active, generation, at) = *inner.stores.get(reference)?;
        let current = inner.generations.get(&s).copied().unwrap_or(0);
        // tenant suspension is not announced per store: store answers live the TTL too
        (generation == current && at.elapsed() < self.ttl).then_some((t, s, active))
    }

    pub fn put_store(&self, reference: String, tenant: TenantId, store: StoreId, active: bool, generation: u64) {
        if !self.live() {
            return;
        }
        let Ok(mut inner) = self.inner.write() else { return };
        if inner.generations.get(&store).copied().unwrap_or(0) != generation {
            return;
        }
        if inner.stores.len() >= MAX_ENTRIES {
            inner.stores.clear();
        }
        inner.stores.insert(reference, (tenant, store, active, generation, Instant::now()));
    }

    /// The epoch to remember before resolving a host from the database.
    pub fn host_epoch(&self) -> u64 {
        self.inner.read().map(|i| i.epoch).unwrap_or(u64::MAX)
    }

    /// The store whose domain `host` is, when known: `Some(None)` is "no store's".
    pub fn get_host(&self, host: &str) -> Option<Option<(TenantId, StoreId)>> {
        if !self.live() {
            return None;
        }
        let inner = self.inner.read().ok()?;
        let (store, epoch, at) = *inner.hosts.get(host)?;
        (epoch == inner.epoch && at.elapsed() < self.ttl).then_some(store)
    }

    /// Remembers what `host` resolved to, read after [`ReadCache::host_epoch`] gave `epoch`.
    pub fn put_host(&self, host: String, store: Option<(TenantId, StoreId)>, epoch: u64) {
        if !self.live() {
            return;
        }
        let Ok(mut inner) = self.inner.write() else { return };
        if inner.epoch != epoch {
            return; // a store changed meanwhile (its domain, maybe)
        }
        if inner.hosts.len() >= MAX_ENTRIES {
            inner.hosts.clear();
        }
        inner.hosts.insert(host, (store, epoch, Instant::now()));
    }

    fn invalidate(&self, store: StoreId) {
        if let Ok(mut inner) = self.inner.write() {
            inner.epoch += 1;
            *inner.generations.entry(store).or_insert(0) += 1;
            inner.entries.retain(|(s, _), _| *s != store);
        }
    }

    fn clear(&self) {
        self.listening.store(false, Ordering::Release);
        if let Ok(mut inner) = self.inner.write() {
            inner.entries.clear();
            inner.stores.clear();
            inner.hosts.clear();
            inner.epoch += 1;
            for g in inner.generations.values_mut() {
                *g += 1;
            }
        }
    }

    /// Listens for catalog changes until `shutdown`; reconnects after failures, serving from
    /// the database meanwhile.
    pub async fn listen(self: Arc<Self>, pool: sqlx::PgPool, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "storefront cache cannot listen; serving uncached");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                        _ = shutdown.cancelled() => return,
                    }
                }
            };
            if let Err(e) = listener.listen("tenpo_catalog").await {
                tracing::warn!(error = %e, "storefront cache cannot listen; serving uncached");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
            self.listening.store(true, Ordering::Release);
            tracing::debug!("storefront cache listening for catalog changes");
            loop {
                tokio::select! {
                    n = listener.try_recv() => match n {
                        Ok(Some(n)) => {
                            if let Ok(id) = n.payload().parse::<StoreId>() {
                                self.invalidate(id);
                            }
                        }
                        // the connection was lost: notifications may have been missed
                        Ok(None) | Err(_) => {
                            tracing::debug!("storefront cache lost its listening connection; clearing");
                            self.clear();
                            break;
                        }
                    },
                    _ = shutdown.cancelled() => return,
                }
            }
        }
    }
}
