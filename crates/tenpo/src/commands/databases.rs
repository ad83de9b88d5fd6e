//! `tenpo db`: the operator's store databases (docs/ROUTING.md), as the operator API has them.

use anyhow::bail;
use db::connections::{self, ConnectionKind, CreateConnection, HealthStatus};

use crate::app;
use crate::cli::{DbCommand, DbKindArg};
use crate::config::Config;

pub async fn run(config: &Config, cmd: DbCommand) -> anyhow::Result<()> {
    let (databases, db) = app::open_database(config).await?;
    let result = async {
        match cmd {
            DbCommand::Add { key, kind, host, port, database, user, password_ref } => {
                let kind = match kind {
                    DbKindArg::Shared => ConnectionKind::Shared,
                    DbKindArg::Dedicated => ConnectionKind::Dedicated,
                };
                let input = CreateConnection {
                    db_key: key,
                    kind,
                    host,
                    port: Some(port),
                    database,
                    username: user,
                    password_secret_ref: Some(password_ref),
                    status: None,
                };
                super::print_json(&connections::create(db.platform(), input).await?)
            }
            DbCommand::List => super::print_json(&connections::list(db.platform()).await?),
            DbCommand::Check { key } => {
                let rows = match key {
                    Some(k) => vec![connections::get(db.platform(), &k).await?],
                    None => connections::list(db.platform())
                        .await?
                        .into_iter()
                        .filter(|c| c.status == connections::ConnectionStatus::Active)
                        .collect(),
                };
                let mut reports = Vec::new();
                for row in &rows {
                    reports.push(connections::check(row, db.connections()).await?);
                }
                super::print_json(&reports)?;
                let bad: Vec<&str> = reports
                    .iter()
                    .filter(|r| {
                        !(r.owner_connects && r.isolation_ok == Some(true) && r.health.status == HealthStatus::Ok)
                    })
                    .map(|r| r.health.db_key.as_str())
                    .collect();
                if !bad.is_empty() {
                    bail!("not healthy: {}", bad.join(", "));
                }
                Ok(())
            }
        }
    }
    .await;
    db.close().await;
    databases.shutdown().await;
    result
}
