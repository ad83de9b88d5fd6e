//! Migrations, the runtime role, and the isolation self-check.
//!
//! `run` is idempotent: it applies the embedded migrations (forward only) as the owner, makes
//! sure the runtime role exists without any way around RLS, grants it data access (never
//! ownership), and then fails loudly if any table with a `tenant_id` column lacks forced
//! row-level security and its policy.

use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot connect as the owner role: {0}")]
    Connect(sqlx::Error),
    #[error(
        "the migration role {0:?} must be a superuser or have BYPASSRLS: the worker's \
         cross-tenant functions run as it"
    )]
    OwnerCannotBypassRls(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("setting up role {role:?} failed: {source}")]
    Role { role: String, source: sqlx::Error },
    #[error("tables with tenant_id but without forced row-level security: {0:?}")]
    Unprotected(Vec<String>),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

#[derive(Debug, Clone)]
pub struct MigrationReport {
    pub applied: Vec<String>,
    pub total: usize,
}

/// A fingerprint of the embedded migrations (names template databases).
pub fn fingerprint() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for m in MIGRATOR.iter() {
        h.update(m.version.to_le_bytes());
        h.update(&*m.checksum);
    }
    hex::encode(&h.finalize()[..6])
}

pub async fn run(
    owner: &PgConnectOptions,
    app_role: &str,
    app_password: Option<&str>,
) -> Result<MigrationReport, MigrateError> {
    let mut conn = PgConnection::connect_with(owner).await.map_err(MigrateError::Connect)?;
    let (role, ok): (String, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut conn)
    .await?;
    if !ok {
        return Err(MigrateError::OwnerCannotBypassRls(role));
    }

    let before: Vec<i64> = applied_versions(&mut conn).await;
    MIGRATOR.run(&mut conn).await?;
    let applied = MIGRATOR
        .iter()
        .filter(|m| !before.contains(&m.version))
        .map(|m| format!("{:04} {}", m.version, m.description))
        .collect();

    ensure_runtime_role(&mut conn, app_role, app_password)
        .await
        .map_err(|source| MigrateError::Role { role: app_role.to_string(), source })?;
    verify_isolation(&mut conn).await?;
    conn.close().await.ok();
    Ok(MigrationReport { applied, total: MIGRATOR.iter().count() })
}

async fn applied_versions(conn: &mut PgConnection) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(conn).await.unwrap_or_default()
}

async fn ensure_runtime_role(conn: &mut PgConnection, role: &str, password: Option<&str>) -> Result<(), sqlx::Error> {
    let ident = quote_ident(role);
    // Roles are cluster-wide and several databases (tests) may create it at once.
    let create = format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {lit}) THEN
             CREATE ROLE {ident} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
           END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
         END $$",
        lit = quote_literal(role)
    );
    sqlx::raw_sql(&create).execute(&mut *conn).await?;
    if let Some(pw) = password {
        let sql = format!("ALTER ROLE {ident} PASSWORD {}", quote_literal(pw));
        // several databases of one server migrated at once change the same role row
        let mut attempt = 0;
        loop {
            match sqlx::raw_sql(&sql).execute(&mut *conn).await {
                Ok(_) => break,
                Err(e) if attempt < 10 && e.to_string().contains("tuple concurrently updated") => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    let db: String = sqlx::query_scalar("SELECT current_database()::text").fetch_one(&mut *conn).await?;
    let grants = format!(
        "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {ident};
         GRANT USAGE ON SCHEMA public TO {ident};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ident};
         REVOKE ALL ON TABLE _sqlx_migrations FROM {ident};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ident};
         REVOKE EXECUTE ON FUNCTION tenpo_secure_tenant_tables() FROM PUBLIC;",
        db = quote_ident(&db)
    );
    sqlx::raw_sql(&grants).execute(&mut *conn).await?;
    Ok(())
}

/// Every table with a tenant_id column must have RLS enabled and forced, with a policy.
pub async fn verify_isolation(conn: &mut PgConnection) -> Result<(), MigrateError> {
    let unprotected: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
          WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
            AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity
                 OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))
          ORDER BY 1",
    )
    .fetch_all(conn)
    .await?;
    if unprotected.is_empty() { Ok(()) } else { Err(MigrateError::Unprotected(unprotected)) }
}

pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
