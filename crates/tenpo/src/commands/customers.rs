//! `tenpo customers import FILE --store HANDLE`: the same import as
//! `POST /admin/v1/customers/import`, with a progress bar.

use anyhow::{Context, bail};
use db::Db;
use indicatif::{ProgressBar, ProgressStyle};
use kernel::access::Acting;
use kernel::{Problem, StoreRef};

use crate::app;
use crate::cli::CustomersCommand;
use crate::config::Config;

pub async fn run(config: &Config, cmd: CustomersCommand) -> anyhow::Result<()> {
    let (databases, db) = app::open_database(config).await?;
    let result = async {
        match cmd {
            CustomersCommand::Import { file, store } => {
                let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
                let report = import(&db, &store, &bytes, true).await?;
                println!("{}", serde_json::to_string_pretty(&report)?);
                Ok(())
            }
        }
    }
    .await;
    db.close().await;
    databases.shutdown().await;
    result
}

/// Imports a customer CSV into a store (handle or id), showing progress on standard error
/// when `show_progress`.
pub async fn import(
    db: &Db,
    store: &str,
    csv: &[u8],
    show_progress: bool,
) -> anyhow::Result<customers::import::ImportReport> {
    let store_ref: StoreRef = store.parse().unwrap_or(StoreRef::Handle(store.to_string()));
    let Some((tenant, store_id, _)) = tenancy::stores::resolve(db, &store_ref).await? else {
        bail!("no store {store:?}");
    };
    let db = &db.store(store_id).await?;
    let bar = if show_progress { ProgressBar::new(0) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} importing customers [{bar:40}] {pos}/{len} rows ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let progress_bar = bar.clone();
    let mut progress = move |p: customers::import::Progress| {
        progress_bar.set_length(p.total);
        progress_bar.set_position(p.done);
    };
    let result = customers::import::import_csv(db, tenant, store_id, Acting::Operator, csv, &mut progress).await;
    bar.finish_and_clear();
    match result {
        Ok(report) => Ok(report),
        Err(e) => {
            for f in e.fields() {
                eprintln!("  {}: {}", f.field, f.message);
            }
            bail!("{e}")
        }
    }
}
