use std::time::Duration;

use crate::app::{self, Parts};
use crate::config::Config;

pub async fn serve(config: &Config, parts: Parts) -> anyhow::Result<()> {
    let (databases, db) = app::open_database(config).await?;
    if let Err(e) = app::check_store_databases(config, &databases, &db).await {
        db.close().await;
        databases.shutdown().await;
        return Err(e);
    }
    if config.operator_token.is_none() && parts.http {
        tracing::warn!("TENPO_OPERATOR_TOKEN is not set: the operator API (/platform/v1) is off");
    }
    let grace = Duration::from_secs(config.http.shutdown_grace_secs);
    // whatever happens (a busy port, a signal), the pool closes and a private cluster stops
    let result = match app::start(&db, config, parts, None).await {
        Ok(running) => app::run_until_signal(running, grace).await,
        Err(e) => Err(e),
    };
    db.close().await;
    databases.shutdown().await;
    result
}

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let databases = db::Databases::open(config.database_settings()).await?;
    let report = databases.migrate().await?;
    if report.applied.is_empty() {
        println!("database is up to date ({} migrations)", report.total);
    } else {
        for m in &report.applied {
            println!("applied {m}");
        }
    }
    println!(
        "runtime role {:?} is ready; every tenant-owned table has forced row-level security",
        databases.runtime_role()
    );
    // then every store database (db_connections), each on its own: one down stops no other
    let done = databases.migrate_connections().await;
    databases.shutdown().await;
    let mut failed = Vec::new();
    for c in done? {
        match c.result {
            Ok(r) if r.applied.is_empty() => println!("database {}: up to date ({} migrations)", c.db_key, r.total),
            Ok(r) => println!("database {}: applied {} migrations ({} in all)", c.db_key, r.applied.len(), r.total),
            Err(e) => {
                println!("database {}: FAILED: {e}", c.db_key);
                failed.push(c.db_key);
            }
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("not migrated: {}", failed.join(", "));
    }
    Ok(())
}
