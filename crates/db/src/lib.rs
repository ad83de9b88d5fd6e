//! PostgreSQL for Tenpo.
//!
//! * [`Db`] holds the runtime pool. The runtime role owns nothing and cannot bypass row-level
//!   security; every read or write of tenant data goes through [`Db::begin`], which opens a
//!   transaction with `app.tenant_id` set, so a query that forgets its tenant sees nothing.
//! * [`migrate`] applies the embedded migrations as the owner role, creates the runtime role,
//!   grants it what it needs and checks that every tenant-owned table is protected.
//! * [`cluster`] starts a private PostgreSQL under the data directory when no `DATABASE_URL` is
//!   given (zero-config start).
//! * [`connections`] the operator's store databases (`db_connections`): validated rows, the
//!   password reference resolved only when connecting, a lazily opened runtime pool per
//!   connection, health, migrating every connection (docs/ROUTING.md).
//! * [`routing`] which database a store lives in: routes and the route cache that every
//!   process keeps current by LISTEN/NOTIFY.
//! * [`testing`] clones a migrated template into a fresh database per test or benchmark run.

pub mod cluster;
pub mod connect;
pub mod connections;
pub mod error;
pub mod migrate;
pub mod mirror;
pub mod moving;
pub mod routing;
pub mod testing;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use kernel::TenantId;
use sqlx::postgres::{PgPool, Postgres};
use sqlx::{PgConnection, Transaction};

pub use connect::{DatabaseSettings, Databases};
pub use error::{
    constraint_of, is_check_violation, is_foreign_key_violation, is_read_only, is_retryable, is_unique_violation,
};
pub use sqlx;

/// The runtime database: a pool connected as the non-owner application role.
#[derive(Clone, Debug)]
pub struct Db {
    /// The pool this handle opens transactions on: the main database's, or a store database's.
    pool: PgPool,
    /// The main (control) database's pool, the same for every handle of the process.
    control: PgPool,
    /// Which database `pool` reaches: `None` for the main one, else the connection's key.
    key: Option<Arc<str>>,
    /// The runtime pools of the operator's other databases, shared by every clone.
    connections: Arc<connections::Registry>,
    /// The route cache of the stores (`store_db_routing`), shared by every clone.
    routes: Arc<routing::Routes>,
    /// A store's handle while its move is frozen: its transactions are read-only, so any write
    /// fails (and answers 503 `store_moving`) while reads go on.
    frozen: bool,
}

impl Db {
    pub fn new(pool: PgPool) -> Self {
        Db::with_connections(pool, Default::default())
    }

    /// With the settings the pools of the other databases are opened with.
    pub fn with_connections(pool: PgPool, settings: connections::RuntimeSettings) -> Self {
        Db {
            control: pool.clone(),
            pool,
            key: None,
            connections: Arc::new(connections::Registry::new(settings)),
            routes: Default::default(),
            frozen: false,
        }
    }

    /// The database a store's data lives in (docs/ROUTING.md): the main one when the store has
    /// no route, else its connection's runtime pool, through the route cache. A route to an
    /// inactive or unreachable database is refused with 503 `store_database_unavailable`; it
    /// never falls back to the main database, which does not hold the store's data.
    pub async fn store(&self, store: kernel::StoreId) -> Result<Db, routing::RouteError> {
        let (key, frozen) = self.routes.lookup(&self.control, store).await?;
        let mut db = self.database(key.as_deref()).await?;
        db.frozen = frozen;
        Ok(db)
    }

    /// The stores whose rows in this handle's database the workers leave alone now: frozen by
    /// their move, or copied there or left there by an unfinished move while they are served
    /// from elsewhere ([`routing::Routes::left_alone`]). A worker's claim skips them, and it
    /// looks again before each transaction of a claimed store's work.
    pub async fn stores_left_alone(&self) -> Result<Vec<kernel::StoreId>, sqlx::Error> {
        self.routes.left_alone(&self.control, self.db_key()).await
    }

    /// Whether the workers of this handle's database leave the store alone now (see
    /// [`Db::stores_left_alone`]); a store that cannot be looked up is left alone too (the work
    /// is tried again on the next round).
    pub async fn leaves_alone(&self, store: Option<kernel::StoreId>) -> bool {
        let Some(store) = store else { return false };
        match self.stores_left_alone().await {
            Ok(stores) => stores.contains(&store),
            Err(_) => true,
        }
    }

    /// Whether this is a store's handle while its move is frozen (writes refused).
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// Refuses a write path that does not go through [`Db::begin`] (the hot-item queue) while
    /// the store's move is frozen.
    pub fn writable(&self) -> Result<(), routing::RouteError> {
        if self.frozen { Err(routing::RouteError::Moving) } else { Ok(()) }
    }

    /// The database of a connection's key (`None` or `main`: the main database).
    pub async fn database(&self, key: Option<&str>) -> Result<Db, routing::RouteError> {
        let Some(key) = key.filter(|k| *k != connections::MAIN) else {
            return Ok(self.control());
        };
        let pool = match self.connections.cached(key) {
            Some(pool) => pool,
            None => {
                let row = match connections::get(&self.control, key).await {
                    Ok(row) => row,
                    Err(connections::ConnectionError::NotFound) => {
                        self.connections.forget(key);
                        return Err(routing::RouteError::Unavailable(key.into()));
                    }
                    Err(e) => return Err(e.into()),
                };
                if row.status == connections::ConnectionStatus::Inactive {
                    self.connections.forget(key);
                    return Err(routing::RouteError::Unavailable(key.into()));
                }
                self.connections.pool(&row)
            }
        };
        // a pool holding no connection (new, or idle long enough to close them all) is asked
        // for one now: an unreachable database answers 503 here, not 500 in the middle of a use case
        if pool.size() == 0 {
            let reached = tokio::time::timeout(connections::REACH_TIMEOUT, pool.acquire()).await;
            if !matches!(reached, Ok(Ok(_))) {
                tracing::warn!(db_key = %key, "store database unreachable");
                return Err(routing::RouteError::Unavailable(key.into()));
            }
        }
        Ok(Db {
            pool,
            control: self.control.clone(),
            key: Some(key.into()),
            connections: self.connections.clone(),
            routes: self.routes.clone(),
            frozen: false,
        })
    }

    /// The main database and every active store database, for the commands that look at all the
    /// data (`tenpo check`, `tenpo inventory check`). One that does not answer is an error
    /// naming it: a check that skipped it would pass on data it never saw.
    pub async fn every_database(&self) -> Result<Vec<Db>, routing::RouteError> {
        let mut all = vec![self.control()];
        for row in connections::list(&self.control).await? {
            if row.status == connections::ConnectionStatus::Active {
                all.push(self.database(Some(&row.db_key)).await?);
            }
        }
        Ok(all)
    }

    /// The main (control) database: tenants, stores, staff, sessions, routes, connections.
    pub fn control(&self) -> Db {
        Db {
            pool: self.control.clone(),
            control: self.control.clone(),
            key: None,
            connections: self.connections.clone(),
            routes: self.routes.clone(),
            frozen: false,
        }
    }

    /// The control database, when this handle reaches a store database (`None` on the main one,
    /// which is the control database itself): what a transaction carries for the tenant-level
    /// data kept there (the customer identity map, docs/ROUTING.md).
    fn control_of_store(&self) -> Option<Db> {
        self.key.as_ref().map(|_| self.control())
    }

    /// Every database that holds one of the tenant's stores, the main one first and always
    /// (it is the control database: the tenant-level rows, such as the identity map, are there
    /// whether or not a store is). A database where one of the tenant's stores is frozen by its
    /// move answers a frozen handle (its writes refused, 503 `store_moving`), since the
    /// tenant-wide writes (merge, erasure) touch every store's rows there.
    pub async fn tenant_databases(&self, tenant: TenantId) -> Result<Vec<Db>, routing::RouteError> {
        let mut tx = self.control().begin(tenant).await?;
        let keys: Vec<(String, bool)> = sqlx::query_as(
            "SELECT coalesce(r.db_key, 'main') AS key,
                    bool_or(EXISTS (SELECT 1 FROM store_moves m WHERE m.store_id = s.id AND m.state = 'frozen'))
               FROM stores s LEFT JOIN store_db_routing r ON r.store_id = s.id
              GROUP BY 1 ORDER BY 1",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut all = vec![self.control()];
        for (key, frozen) in keys {
            let mut db = if key == connections::MAIN { self.control() } else { self.database(Some(&key)).await? };
            db.frozen = frozen;
            if key == connections::MAIN { all[0] = db } else { all.push(db) }
        }
        Ok(all)
    }

    /// The key of the database this handle reaches (`main` for the main one).
    pub fn db_key(&self) -> &str {
        self.key.as_deref().unwrap_or(connections::MAIN)
    }

    /// Whether this handle reaches the main database.
    pub fn is_main(&self) -> bool {
        self.key.is_none()
    }

    /// The route cache: which database each store lives in (docs/ROUTING.md).
    pub fn routes(&self) -> &Arc<routing::Routes> {
        &self.routes
    }

    /// The pools of the operator's other databases (`db_connections`).
    pub fn connections(&self) -> &Arc<connections::Registry> {
        &self.connections
    }

    /// The health of the main database (`main`) and of every connection, checked at once.
    pub async fn health(&self) -> Vec<connections::DbHealth> {
        let (main, others) = tokio::join!(
            connections::health_of(connections::MAIN, &self.control),
            connections::health_all(&self.control, &self.connections)
        );
        let mut all = vec![main];
        match others {
            Ok(o) => all.extend(o),
            // the main database did not answer: its own entry says so
            Err(e) => tracing::debug!(error = %e, "cannot list the database connections"),
        }
        all
    }

    /// Opens a transaction scoped to one tenant: row-level security shows and accepts only that
    /// tenant's rows until it commits or rolls back.
    pub async fn begin(&self, tenant: TenantId) -> Result<Tx, sqlx::Error> {
        // BEGIN and the setting in one round trip (a simple query; the id is a UUID we print)
        let mode = if self.frozen { " READ ONLY" } else { "" };
        let inner =
            self.pool.begin_with(format!("BEGIN{mode}; SELECT set_config('app.tenant_id', '{tenant}', true)")).await?;
        Ok(Tx { inner, tenant, control: self.control_of_store() })
    }

    /// A read-only transaction of `tenant` on one snapshot (repeatable read): what several
    /// queries see together is one moment's data, however busy the tables are (`tenpo check`).
    pub async fn begin_snapshot(&self, tenant: TenantId) -> Result<Tx, sqlx::Error> {
        let inner = self
            .pool
            .begin_with(format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT set_config('app.tenant_id', '{tenant}', true)"
            ))
            .await?;
        Ok(Tx { inner, tenant, control: self.control_of_store() })
    }

    /// The pool, for the narrow cross-tenant entry points (SECURITY DEFINER functions such as
    /// `tenpo_resolve_store`, `tenpo_claim_outbox`) and the operator tables without tenant_id.
    /// Tenant-owned tables are invisible here: RLS answers with zero rows.
    pub fn platform(&self) -> &PgPool {
        &self.pool
    }

    /// A pool of its own, with the same connection settings, for a task on another runtime
    /// (a connection answers to the runtime that opened it). Call it on that runtime.
    pub fn own_pool(&self, max_connections: u32) -> Db {
        let options = self.pool.connect_options().as_ref().clone();
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(max_connections).connect_lazy_with(options);
        Db {
            control: if self.key.is_none() { pool.clone() } else { self.control.clone() },
            pool,
            key: self.key.clone(),
            connections: self.connections.clone(),
            routes: self.routes.clone(),
            frozen: self.frozen,
        }
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn close(&self) {
        self.connections.close_all().await;
        self.control.close().await;
        self.pool.close().await
    }
}

/// A transaction scoped to one tenant (see [`Db::begin`]). Dropping it without
/// [`Tx::commit`] rolls it back.
pub struct Tx {
    inner: Transaction<'static, Postgres>,
    tenant: TenantId,
    /// The control database, when this transaction is on a store database.
    control: Option<Db>,
}

impl Tx {
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The control (main) database when this transaction is on a store database of its own,
    /// `None` when it is on the main one: tenant-level data kept on the control database (the
    /// customer identity map) is reached through it (docs/ROUTING.md).
    pub fn control(&self) -> Option<&Db> {
        self.control.as_ref()
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl Deref for Tx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.inner
    }
}
