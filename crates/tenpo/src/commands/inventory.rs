//! `tenpo inventory check [--repair]`.

use anyhow::bail;
use kernel::PageRequest;

use crate::app;
use crate::cli::InventoryCommand;
use crate::config::Config;

pub async fn run(config: &Config, cmd: InventoryCommand) -> anyhow::Result<()> {
    let InventoryCommand::Check { repair } = cmd;
    let (databases, db) = app::open_database(config).await?;
    let result = async {
        let (mut rows, mut drifted, mut fixed, mut left) = (0i64, 0usize, 0usize, 0usize);
        // the main database and every store database: a routed store's stock lives in its own
        for db in db.every_database().await? {
            let mut page = PageRequest { limit: Some(200), cursor: None };
            loop {
                let tenants = tenancy::tenants::list_tenants(&db, &page).await?;
                for t in &tenants.items {
                    let mut tx = db.begin(t.id).await?;
                    rows += inventory::check::rows(&mut tx).await?;
                    let drifts = inventory::check::check(&mut tx).await?;
                    drifted += drifts.len();
                    for d in &drifts {
                        println!(
                            "tenant {} store {} variant {} location {}: {}",
                            t.id,
                            d.store_id,
                            d.variant_id,
                            d.location_id,
                            d.describe()
                        );
                    }
                    if repair && !drifts.is_empty() {
                        let (n, remaining) = inventory::check::repair(&mut tx).await?;
                        fixed += n;
                        left += remaining.len();
                    }
                    tx.commit().await?;
                }
                match tenants.next_cursor {
                    Some(c) => page.cursor = Some(c),
                    None => break,
                }
            }
        }
        println!(
            "{rows} stock rows checked, {drifted} drifted{}",
            if repair { format!(", {fixed} repaired, {left} left for a person") } else { String::new() }
        );
        if drifted > 0 && (!repair || left > 0) {
            bail!("inventory is not consistent");
        }
        Ok(())
    }
    .await;
    db.close().await;
    databases.shutdown().await;
    result
}
