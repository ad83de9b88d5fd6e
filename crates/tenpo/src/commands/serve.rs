use std::time::Duration;

use crate::app::{self, Parts};
use crate::config::Config;

pub async fn serve(config: &Config, parts: Parts) -> anyhow::Result<()> {
    let (databases, db) = app::open_database(config).await?;
    if config.operator_token.is_none() && parts.http {
        tracing::warn!("TENPO_OPERATOR_TOKEN is not set: the operator API (/platform/v1) is off");
    }
    let mut running = app::start(&db, config, parts, None).await?;
    tokio::select! {
        _ = app::shutdown_signal() => {}
        _ = running.wait() => {}
    }
    running.stop(Duration::from_secs(config.http.shutdown_grace_secs)).await;
    db.close().await;
    databases.shutdown().await;
    Ok(())
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
