//! Store databases on a second real PostgreSQL server (docs/ROUTING.md).

mod connections;
mod customers;
mod identity;
mod moving;
mod processes;
mod routes;
mod serving;
mod statements;

use db::testing::{SECOND_SERVER_PASSWORD, TestDatabase, second_server};
use reqwest::Method;
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};

use crate::support::TestApp;

/// The runtime role's password on every server of these tests (the second one requires one).
pub const APP_PASSWORD: &str = "runtime-role-pw-for-tests";

/// A database on the second server, and an owner pool to look into it.
pub struct OnSecond {
    pub database: TestDatabase,
    pub owner: PgPool,
}

impl OnSecond {
    /// A fresh database on the second server: migrated (`migrated`) or empty.
    pub async fn create(migrated: bool) -> OnSecond {
        let server = second_server().await.expect("second PostgreSQL server");
        runtime_role_with_password(&server).await;
        let database =
            if migrated { TestDatabase::create_on(server).await } else { TestDatabase::empty_on(server).await }
                .expect("database on the second server");
        let owner = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_with(database.owner.clone())
            .await
            .expect("owner pool on the second server");
        OnSecond { database, owner }
    }

    /// Its socket directory, as a connection's `host`.
    pub fn host(&self) -> String {
        self.database.owner.get_socket().expect("a unix socket").display().to_string()
    }

    pub fn name(&self) -> &str {
        &self.database.name
    }

    /// A file holding the owner's password (for `file:` references).
    pub fn password_file(&self) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("tenpo-secret-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, format!("{SECOND_SERVER_PASSWORD}\n")).unwrap();
        path
    }

    /// Connections of the runtime role to this database now.
    pub async fn runtime_connections(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = 'tenpo_app'")
            .bind(self.name())
            .fetch_one(&self.owner)
            .await
            .unwrap()
    }
}

/// A test app whose runtime role signs in on the second server too, with a connection `second`
/// to a migrated database there.
pub async fn app_with_second(worker: bool) -> (TestApp, OnSecond, std::path::PathBuf) {
    let app = TestApp::spawn_with(|c, o| {
        o.worker = worker;
        c.database.app_password = Some(APP_PASSWORD.into());
    })
    .await;
    let second = OnSecond::create(true).await;
    let secret = second.password_file();
    app.op(
        Method::POST,
        "/platform/v1/databases",
        Some(json!({ "db_key": "second", "kind": "dedicated", "host": second.host(), "database": second.name(),
                     "username": "tenpo", "password_secret_ref": format!("file:{}", secret.display()) })),
    )
    .await
    .expect(201);
    (app, second, secret)
}

/// Tables of the public schema where any row's text contains `needle`.
pub async fn tables_containing(pool: &PgPool, needle: &str) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut found = Vec::new();
    for t in tables {
        let sql =
            format!("SELECT count(*) FROM {} t WHERE t::text LIKE '%' || $1 || '%'", db::migrate::quote_ident(&t));
        let n: i64 = sqlx::query_scalar(&sql).bind(needle).fetch_one(pool).await.unwrap();
        if n > 0 {
            found.push(t);
        }
    }
    found
}

/// The runtime role exists on the second server with [`APP_PASSWORD`], as it does once any
/// database there has been migrated with that password. Roles are server-wide and the server is
/// shared by every test: without this, whether a test could sign in as the runtime role depended
/// on which test had reached the server first (the template build creates the role without one).
async fn runtime_role_with_password(server: &PgConnectOptions) {
    let mut conn = PgConnection::connect_with(server).await.expect("second server");
    let sql = format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tenpo_app') THEN
             CREATE ROLE tenpo_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
           END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
         END $$;
         ALTER ROLE tenpo_app PASSWORD '{APP_PASSWORD}'"
    );
    // tests starting at once change the same role row
    for attempt in 1..=20u64 {
        match sqlx::raw_sql(&sql).execute(&mut conn).await {
            Ok(_) => break,
            Err(e) if attempt < 20 && e.to_string().contains("concurrently") => {
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await
            }
            Err(e) => panic!("the runtime role on the second server: {e}"),
        }
    }
    conn.close().await.ok();
}
