//! `tenpo search reindex`: rebuilds search documents from the database, resumably.

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use kernel::{PageRequest, StoreRef};

use crate::app;
use crate::cli::SearchCommand;
use crate::config::Config;

pub async fn run(config: &Config, cmd: SearchCommand) -> anyhow::Result<()> {
    let (databases, db) = app::open_database(config).await?;
    let result = async {
        match cmd {
            SearchCommand::Reindex { store, batch } => {
                // takes the embedded index's writer unless a running worker holds it; then the
                // batches are handed to that worker through search_pending
                let search = app::open_search(config, true).await?;
                let stores = match store {
                    Some(s) => vec![resolve(&db, &s).await?],
                    None => all_stores(&db).await?,
                };
                let opts = search::reindex::ReindexOptions { batch: batch.max(1), max_batches: None };
                for (tenant, store, label) in stores {
                    let bar = ProgressBar::new(0);
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {pos}/{len} products ({eta} left)")
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                    );
                    bar.set_message(label.clone());
                    let b = bar.clone();
                    let mut progress = move |done: u64, total: u64| {
                        b.set_length(total);
                        b.set_position(done);
                    };
                    let report = search::reindex::reindex_store(
                        &db.store(store).await?,
                        &search,
                        tenant,
                        store,
                        &opts,
                        &mut progress,
                    )
                    .await?;
                    bar.finish_and_clear();
                    println!(
                        "{label}: {} products{}{} ({} backend){}",
                        report.total,
                        if report.resumed_after > 0 {
                            format!(", resumed after {}", report.resumed_after)
                        } else {
                            String::new()
                        },
                        if report.queued { ", handed to the running worker" } else { ", reindexed" },
                        search.name(),
                        if report.finished { "" } else { " - interrupted" }
                    );
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

async fn resolve(db: &db::Db, store: &str) -> anyhow::Result<(kernel::TenantId, kernel::StoreId, String)> {
    let store_ref: StoreRef = store.parse().unwrap_or(StoreRef::Handle(store.to_string()));
    match tenancy::stores::resolve(db, &store_ref).await? {
        Some((tenant, id, _)) => Ok((tenant, id, store.to_string())),
        None => bail!("no store {store:?}"),
    }
}

/// Every store of every tenant.
async fn all_stores(db: &db::Db) -> anyhow::Result<Vec<(kernel::TenantId, kernel::StoreId, String)>> {
    let mut out = Vec::new();
    let mut tenants_page = PageRequest { limit: Some(200), cursor: None };
    loop {
        let tenants = tenancy::tenants::list_tenants(db, &tenants_page).await?;
        for t in &tenants.items {
            let mut tx = db.begin(t.id).await?;
            let mut page = PageRequest { limit: Some(200), cursor: None };
            loop {
                let stores = tenancy::stores::list_stores(&mut tx, &page).await?;
                out.extend(stores.items.iter().map(|s| (t.id, s.id, s.handle.clone())));
                match stores.next_cursor {
                    Some(c) => page.cursor = Some(c),
                    None => break,
                }
            }
            tx.commit().await?;
        }
        match tenants.next_cursor {
            Some(c) => tenants_page.cursor = Some(c),
            None => break,
        }
    }
    Ok(out)
}
