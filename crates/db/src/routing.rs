//! Which database a store lives in: `store_db_routing` and the route cache (docs/ROUTING.md).
//!
//! Every change to a route bumps its `version` and fires `NOTIFY tenpo_routes, '<store id>'` at
//! commit (migration 202612011916). [`Routes`] caches each store's route; a listener task drops
//! a store's entry when its notification arrives, so every process sees a change within a
//! second. An answer read before a change is never cached after the change was heard (a
//! generation counter), and while the listening connection is down the cache is bypassed and
//! emptied: a process never answers from a route whose change it could have missed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use kernel::{Problem, StoreId};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use utoipa::ToSchema;

use crate::connections::{self, ConnectionError, ConnectionStatus, MAIN};

/// A store's route: the database its data lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StoreRoute {
    pub store_id: StoreId,
    /// `main` when the store has no route (the main database).
    pub db_key: String,
    /// Bumped by every change of the route (0: never routed).
    pub version: i64,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoute {
    /// A connection's key, or `main` for the main database.
    #[schema(example = "noisy-1")]
    pub db_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("no such store")]
    StoreNotFound,
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    #[error(
        "the store already has data (products, carts or orders) in its database: a route would leave it \
         behind; move it instead (`tenpo store move`)"
    )]
    StoreHasData,
    /// The store's database is taken out of use, gone from `db_connections`, or does not answer:
    /// the store is not served (and never from the main database, which lacks its data).
    #[error("this store's database {0:?} is not available now; retry later")]
    Unavailable(String),
    /// A route may only name a database that is active, answers and carries this binary's
    /// migrations.
    #[error("the database {key:?} is not ready for stores: {why}")]
    NotReady { key: String, why: String },
    /// The store is moving to another database and its writes are frozen for a moment.
    #[error("this store is moving to another database; its writes resume in a moment")]
    Moving,
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl Problem for RouteError {
    fn status(&self) -> u16 {
        match self {
            RouteError::StoreNotFound => 404,
            RouteError::Connection(e) => e.status(),
            RouteError::StoreHasData => 409,
            RouteError::Unavailable(_) => 503,
            RouteError::NotReady { .. } => 409,
            RouteError::Moving => 503,
            RouteError::Db(_) => 500,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            RouteError::StoreNotFound => "store_not_found",
            RouteError::Connection(e) => e.code(),
            RouteError::StoreHasData => "store_has_data",
            RouteError::Unavailable(_) => STORE_DATABASE_UNAVAILABLE,
            RouteError::NotReady { .. } => "database_not_ready",
            RouteError::Moving => STORE_MOVING,
            RouteError::Db(_) => "internal",
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            RouteError::Unavailable(_) => Some(RETRY_AFTER_SECS),
            RouteError::Moving => Some(MOVING_RETRY_AFTER_SECS),
            _ => None,
        }
    }
}

/// The code of a store whose database does not serve it here (503, with `Retry-After`).
pub const STORE_DATABASE_UNAVAILABLE: &str = "store_database_unavailable";
const RETRY_AFTER_SECS: u64 = 5;
/// The code of a write refused while its store's move is frozen (503, with `Retry-After`).
pub const STORE_MOVING: &str = "store_moving";
pub const MOVING_RETRY_AFTER_SECS: u64 = 1;

/// The route of a store (`main` without one).
pub async fn route_of(control: &PgPool, store: StoreId) -> Result<StoreRoute, sqlx::Error> {
    let row: Option<(String, i64, DateTime<Utc>)> =
        sqlx::query_as("SELECT db_key, version, updated_at FROM store_db_routing WHERE store_id = $1")
            .bind(store)
            .fetch_optional(control)
            .await?;
    Ok(match row {
        Some((db_key, version, at)) => StoreRoute { store_id: store, db_key, version, updated_at: Some(at) },
        None => StoreRoute { store_id: store, db_key: MAIN.into(), version: 0, updated_at: None },
    })
}

/// Routes a store to a connection, or back to the main database (`main`). Only a store without
/// data may be routed: one with products, carts or orders is moved instead. The target must be
/// ready: active, answering, and at this binary's migrations (409 `database_not_ready`).
/// The store's control rows (tenant, vendors, the store) and its setup rows (settings,
/// counters, locations) are copied there before the route changes.
pub async fn set_route(
    db: &crate::Db,
    tenant: kernel::TenantId,
    store: StoreId,
    input: SetRoute,
) -> Result<StoreRoute, RouteError> {
    let control = db.control();
    let current = route_of(control.platform(), store).await?;
    let mut tx = control.begin(tenant).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM stores WHERE id = $1)")
        .bind(store)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    if !exists {
        return Err(RouteError::StoreNotFound);
    }
    if input.db_key == current.db_key {
        return Ok(current);
    }
    let target = if input.db_key == MAIN {
        control.clone()
    } else {
        let conn = connections::get(control.platform(), &input.db_key).await?;
        if conn.status == ConnectionStatus::Inactive {
            return Err(RouteError::NotReady { key: conn.db_key, why: "it is inactive".into() });
        }
        let health = connections::health_of(&conn.db_key, &control.connections().pool(&conn)).await;
        match health.status {
            connections::HealthStatus::Ok => {}
            _ => {
                let why = health.error.unwrap_or_else(|| "it does not answer".into());
                return Err(RouteError::NotReady { key: conn.db_key, why });
            }
        }
        control.database(Some(&conn.db_key)).await.map_err(|e| match e {
            RouteError::Unavailable(key) => RouteError::NotReady { key, why: "it does not answer".into() },
            other => other,
        })?
    };
    // the data lives where the current route points: a store with data there is moved, not routed
    let source = control.database(Some(&current.db_key)).await?;
    let mut tx = source.begin(tenant).await?;
    let has_data: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM products WHERE store_id = $1)
                OR EXISTS (SELECT 1 FROM carts WHERE store_id = $1)
                OR EXISTS (SELECT 1 FROM orders WHERE store_id = $1)",
    )
    .bind(store)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    if has_data {
        return Err(RouteError::StoreHasData);
    }
    if !target.is_main() {
        // the rows its data points at, before any request can reach it there
        crate::mirror::mirror_into(&control, &target, tenant).await?;
    }
    crate::mirror::copy_setup(&source, &target, tenant, store).await?;
    if input.db_key == MAIN {
        sqlx::query("DELETE FROM store_db_routing WHERE store_id = $1").bind(store).execute(control.platform()).await?;
    } else {
        sqlx::query(
            "INSERT INTO store_db_routing (store_id, db_key) VALUES ($1, $2)
             ON CONFLICT (store_id) DO UPDATE SET db_key = EXCLUDED.db_key",
        )
        .bind(store)
        .bind(&input.db_key)
        .execute(control.platform())
        .await?;
        // the stores routed there now include this one
        crate::mirror::mirror_into(&control, &target, tenant).await?;
    }
    let route = route_of(control.platform(), store).await?;
    tracing::info!(store_id = %store, db_key = %route.db_key, version = route.version, "store route changed");
    Ok(route)
}

#[derive(Default)]
struct Inner {
    /// store -> its route's db_key (`None`: the main database) and whether its move is frozen
    entries: HashMap<StoreId, (Option<String>, bool)>,
    /// db_key -> the stores whose rows there its workers leave alone (see [`Routes::left_alone`])
    left_alone: HashMap<String, Vec<StoreId>>,
    /// bumped by every notification and every clearing
    generation: u64,
}

/// The process's route cache.
#[derive(Default)]
pub struct Routes {
    inner: Mutex<Inner>,
    listening: AtomicBool,
    /// A listener task runs (the API and the worker of one process share one).
    started: AtomicBool,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes").field("listening", &self.listening.load(Ordering::Relaxed)).finish()
    }
}

impl Routes {
    /// The store's database: `None` for the main one, else the connection's key.
    pub async fn database_of(&self, control: &PgPool, store: StoreId) -> Result<Option<String>, sqlx::Error> {
        Ok(self.lookup(control, store).await?.0)
    }

    /// The store's database and whether its writes are frozen (a move in its `frozen` step).
    pub async fn lookup(&self, control: &PgPool, store: StoreId) -> Result<(Option<String>, bool), sqlx::Error> {
        let seen = {
            let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if self.listening.load(Ordering::Acquire)
                && let Some(hit) = inner.entries.get(&store)
            {
                return Ok(hit.clone());
            }
            inner.generation
        };
        let key: (Option<String>, bool) = sqlx::query_as(
            "SELECT (SELECT db_key FROM store_db_routing WHERE store_id = $1),
                    EXISTS (SELECT 1 FROM store_moves WHERE store_id = $1 AND state = 'frozen')",
        )
        .bind(store)
        .fetch_one(control)
        .await?;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        // a change heard while we read may be newer than what we read: do not keep it
        if self.listening.load(Ordering::Acquire) && inner.generation == seen {
            inner.entries.insert(store, key.clone());
        }
        Ok(key)
    }

    /// The stores whose rows in the database `db_key` its workers (relay, sweeps, jobs, the
    /// hot-item decider) leave alone now: a store whose move is frozen (what is written there
    /// until the switch would be lost), a store being copied there (the target's copy is not
    /// served yet) and a store switched away whose rows wait for the grace delete. Cached like
    /// the routes: every change of a move notifies `tenpo_routes` and empties it.
    pub async fn left_alone(&self, control: &PgPool, db_key: &str) -> Result<Vec<StoreId>, sqlx::Error> {
        let seen = {
            let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if self.listening.load(Ordering::Acquire)
                && let Some(hit) = inner.left_alone.get(db_key)
            {
                return Ok(hit.clone());
            }
            inner.generation
        };
        let stores: Vec<StoreId> = sqlx::query_scalar(
            "SELECT m.store_id FROM store_moves m LEFT JOIN store_db_routing r ON r.store_id = m.store_id
              WHERE m.state IN ('copying', 'frozen', 'switched')
                AND (m.state = 'frozen' OR coalesce(r.db_key, 'main') <> $1)",
        )
        .bind(db_key)
        .fetch_all(control)
        .await?;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if self.listening.load(Ordering::Acquire) && inner.generation == seen {
            inner.left_alone.insert(db_key.to_string(), stores.clone());
        }
        Ok(stores)
    }

    fn invalidate(&self, store: Option<StoreId>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.generation += 1;
        inner.left_alone.clear();
        match store {
            Some(s) => {
                inner.entries.remove(&s);
            }
            None => inner.entries.clear(),
        }
    }

    /// Whether the listener is connected (the cache is in use).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// Listens for route changes on the control database until `shutdown` resolves.
    /// It listens on a connection of its own, not one of `pool`'s: a small pool stays whole.
    /// One listener per cache: a second call (the worker beside the API) returns at once.
    pub async fn listen(self: std::sync::Arc<Self>, pool: PgPool, shutdown: impl Future<Output = ()>) {
        if self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let options = pool.connect_options().as_ref().clone();
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect_lazy_with(options);
        tokio::pin!(shutdown);
        loop {
            let connected = async {
                let mut l = PgListener::connect_with(&pool).await?;
                l.listen("tenpo_routes").await?;
                Ok::<_, sqlx::Error>(l)
            };
            let mut listener = tokio::select! {
                l = connected => match l {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "the route cache cannot listen; reading every route");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                            _ = &mut shutdown => return,
                        }
                    }
                },
                _ = &mut shutdown => return,
            };
            // what was cached before we listened may have changed unheard
            self.invalidate(None);
            self.listening.store(true, Ordering::Release);
            loop {
                tokio::select! {
                    n = listener.try_recv() => match n {
                        Ok(Some(n)) => self.invalidate(n.payload().parse::<StoreId>().ok()),
                        Ok(None) | Err(_) => {
                            self.listening.store(false, Ordering::Release);
                            self.invalidate(None);
                            tracing::debug!("the route cache lost its listening connection; bypassing it");
                            break;
                        }
                    },
                    _ = &mut shutdown => {
                        self.listening.store(false, Ordering::Release);
                        return;
                    }
                }
            }
        }
    }
}
