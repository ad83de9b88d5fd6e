use std::time::Duration;

use crate::app::{self, Parts};
use crate::config::Config;

pub async fn serve(config: &Config, parts: Parts) -> anyhow::Result<()> {
    let (databases, db) = app::open_database(config).await?;
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
    databases.shutdown().await;
    Ok(())
}
