//! `tenpo catalog import|export`: the same use cases as the admin endpoints.

use anyhow::{Context, bail};
use catalog::csv::ImportMode;
use indicatif::{ProgressBar, ProgressStyle};
use kernel::access::Acting;
use kernel::{Problem, StoreRef};

use crate::app;
use crate::cli::CatalogCommand;
use crate::config::Config;

pub async fn run(config: &Config, cmd: CatalogCommand) -> anyhow::Result<()> {
    let (databases, db) = app::open_database(config).await?;
    let result = async {
        match cmd {
            CatalogCommand::Import { file, store, partial, tax_class } => {
                let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
                let (tenant, store_id) = resolve(&db, &store).await?;
                let bar = ProgressBar::new(0);
                bar.set_style(
                    ProgressStyle::with_template("{spinner} importing [{bar:40}] {pos}/{len} products ({eta} left)")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                let mode = if partial { ImportMode::Partial } else { ImportMode::AllOrNothing };
                let tax_class = match tax_class.as_deref() {
                    Some("reduced") => Some(catalog::variant::TaxClass::Reduced),
                    Some(_) => Some(catalog::variant::TaxClass::Standard),
                    None => None,
                };
                let options = catalog::csv::ImportOptions { mode, tax_class };
                let mut tx = db.store(store_id).await?.begin(tenant).await?;
                let progress_bar = bar.clone();
                let mut progress = move |done: usize, total: usize| {
                    progress_bar.set_length(total as u64);
                    progress_bar.set_position(done as u64);
                };
                match catalog::csv::import_with(&mut tx, store_id, Acting::Operator, &bytes, options, &mut progress)
                    .await
                {
                    Ok(report) => {
                        bar.set_message("committing");
                        // the worker's search sync indexes them at its next poll
                        search::sync::mark(&mut tx, store_id, &report.product_ids).await?;
                        tx.commit().await?;
                        bar.finish_and_clear();
                        println!(
                            "imported {} rows ({:?}): {} products created, {} updated; {} variants created, {} updated",
                            report.rows,
                            report.encoding.map(|e| format!("{e:?}")).unwrap_or_default(),
                            report.products_created,
                            report.products_updated,
                            report.variants_created,
                            report.variants_updated
                        );
                        if report.images_queued > 0 {
                            println!(
                                "{} images to fetch (the worker fetches them and makes their renditions)",
                                report.images_queued
                            );
                        }
                        for w in &report.warnings {
                            println!("warning: {}: {}", w.field, w.message);
                        }
                        if !report.skipped.is_empty() {
                            println!("skipped {} rows:", report.skipped.len());
                            for e in &report.skipped {
                                println!("  {}: {}", e.field, e.message);
                            }
                        }
                        Ok(())
                    }
                    Err(e) => {
                        bar.finish_and_clear();
                        for f in e.fields() {
                            eprintln!("  {}: {}", f.field, f.message);
                        }
                        bail!("{e} (nothing was imported)")
                    }
                }
            }
            CatalogCommand::Export { store, encoding, out } => {
                let (tenant, store_id) = resolve(&db, &store).await?;
                let mut tx = db.store(store_id).await?.begin(tenant).await?;
                let base = config.images.public_url.clone().unwrap_or_default();
                let csv = catalog::csv::export(&mut tx, store_id, Acting::Operator, &base).await?;
                tx.commit().await?;
                let bytes = kernel::csv_file::encode(&csv, encoding.into(), "products.csv")?.bytes;
                match out {
                    Some(path) => {
                        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
                        eprintln!("wrote {}", path.display());
                    }
                    None => {
                        use std::io::Write;
                        let mut stdout = std::io::stdout().lock();
                        stdout.write_all(&bytes)?;
                        stdout.flush()?;
                    }
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

async fn resolve(db: &db::Db, store: &str) -> anyhow::Result<(kernel::TenantId, kernel::StoreId)> {
    let store_ref: StoreRef = store.parse().unwrap_or(StoreRef::Handle(store.to_string()));
    match tenancy::stores::resolve(db, &store_ref).await? {
        Some((tenant, id, _)) => Ok((tenant, id)),
        None => bail!("no store {store:?}"),
    }
}
