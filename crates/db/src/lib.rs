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
pub mod routing;
pub mod testing;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use kernel::TenantId;
use sqlx::postgres::{PgPool, Postgres};
use sqlx::{PgConnection, Transaction};

pub use connect::{DatabaseSettings, Databases};
pub use error::{constraint_of, is_check_violation, is_foreign_key_violation, is_retryable, is_unique_violation};
pub use sqlx;

/// The runtime database: a pool connected as the non-owner application role.
#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
    /// The runtime pools of the operator's other databases, shared by every clone.
    connections: Arc<connections::Registry>,
    /// The route cache of the stores (`store_db_routing`), shared by every clone.
    routes: Arc<routing::Routes>,
}

impl Db {
    pub fn new(pool: PgPool) -> Self {
        Db::with_connections(pool, Default::default())
    }

    /// With the settings the pools of the other databases are opened with.
    pub fn with_connections(pool: PgPool, settings: connections::RuntimeSettings) -> Self {
        Db { pool, connections: Arc::new(connections::Registry::new(settings)), routes: Default::default() }
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
            connections::health_of(connections::MAIN, &self.pool),
            connections::health_all(&self.pool, &self.connections)
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
        let inner =
            self.pool.begin_with(format!("BEGIN; SELECT set_config('app.tenant_id', '{tenant}', true)")).await?;
        Ok(Tx { inner, tenant })
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
        Ok(Tx { inner, tenant })
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
        Db {
            pool: sqlx::postgres::PgPoolOptions::new().max_connections(max_connections).connect_lazy_with(options),
            connections: self.connections.clone(),
            routes: self.routes.clone(),
        }
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn close(&self) {
        self.connections.close_all().await;
        self.pool.close().await
    }
}

/// A transaction scoped to one tenant (see [`Db::begin`]). Dropping it without
/// [`Tx::commit`] rolls it back.
pub struct Tx {
    inner: Transaction<'static, Postgres>,
    tenant: TenantId,
}

impl Tx {
    pub fn tenant(&self) -> TenantId {
        self.tenant
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
