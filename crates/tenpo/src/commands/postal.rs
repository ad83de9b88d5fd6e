//! `tenpo postal update FILE`: loads Japan Post's official UTF-8 ken_all CSV into the database
//! (crates/postal::store); servers started afterwards use it instead of the compiled-in table.

use std::path::Path;

use anyhow::Context;
use db::Db;

use crate::app;
use crate::cli::PostalCommand;
use crate::config::Config;

pub async fn run(config: &Config, cmd: PostalCommand) -> anyhow::Result<()> {
    let (databases, db) = app::open_database(config).await?;
    let result = match cmd {
        PostalCommand::Update { file } => update(&db, &file).await.map(|n| {
            println!("loaded {n} places from {}; restart the servers to use them", file.display());
        }),
    };
    db.close().await;
    databases.shutdown().await;
    result
}

/// Reads the file and replaces the stored table with it; answers how many places it holds.
pub async fn update(db: &Db, file: &Path) -> anyhow::Result<usize> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let places = postal::parse_ken_all(&bytes).with_context(|| format!("{} is not a ken_all file", file.display()))?;
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    postal::store::replace(db.platform(), &name, &places).await.context("cannot store the postal table")?;
    Ok(places.len())
}
