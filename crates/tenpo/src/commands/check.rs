//! `tenpo check [--json]`: every invariant the data must keep, over every tenant. Each is
//! checked by the domain that owns its tables (`<domain>::check`), on one snapshot per tenant;
//! this only runs them and reports. `tenpo inventory check` is the `stock` part alone (with
//! `--repair`).

use std::time::Duration;

use anyhow::bail;
use db::{Db, Tx};
use kernel::consistency::Checked;
use kernel::{PageRequest, TenantId};
use serde::Serialize;

use crate::app;
use crate::config::Config;

/// The invariants, in the order they are reported: (name, the rule).
pub const INVARIANTS: &[(&str, &str)] = &[
    ("stock", "reserved equals what the active reservations hold; no number is negative"),
    ("stock_ledger", "each stock row's movements add up to its stock and reserved"),
    (
        "reservations",
        "consumed holds have an order and add up to its physical lines; granted add-to-cart requests for physical goods have one hold each",
    ),
    ("orders", "one payment of the total; one shipment per vendor with physical lines; lines add up to the totals"),
    ("order_status", "the stored status is the one derived from the payment and shipments"),
    ("order_numbers", "each store's orders are numbered 1001, 1002, ... without gaps, up to its counter"),
    (
        "order_events",
        "one order.placed per order, one order.canceled per canceled order, one payment.confirmed per confirmed payment",
    ),
    (
        "outbox",
        "each aggregate's events numbered without gaps up to its counter; none pending, claimed or failed past the grace",
    ),
    ("deliveries", "paid digital items delivered, canceled orders' deliveries revoked, download counts as on record"),
    (
        "statements",
        "each vendor statement adds up, matches its lines and their tax, carries in what the previous carried out; numbered without gaps",
    ),
];

#[derive(Debug, Serialize)]
pub struct Report {
    pub ok: bool,
    pub tenants: usize,
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub name: &'static str,
    pub rule: &'static str,
    /// Rows (or stores, orders, ...) looked at, over every tenant.
    pub checked: i64,
    pub violations: Vec<Found>,
}

#[derive(Debug, Serialize)]
pub struct Found {
    pub tenant_id: TenantId,
    pub subject: String,
    pub detail: String,
}

impl Report {
    pub fn violations(&self) -> usize {
        self.checks.iter().map(|c| c.violations.len()).sum()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for c in &self.checks {
            let verdict =
                if c.violations.is_empty() { "ok".to_string() } else { format!("{} VIOLATED", c.violations.len()) };
            writeln!(f, "{:<14} {:>8} checked  {verdict}  ({})", c.name, c.checked, c.rule)?;
            for v in &c.violations {
                writeln!(f, "  tenant {} {}: {}", v.tenant_id, v.subject, v.detail)?;
            }
        }
        write!(f, "{} tenants, {} invariants, {} violations", self.tenants, self.checks.len(), self.violations())
    }
}

/// One invariant over one tenant.
async fn one(name: &str, tx: &mut Tx, stuck_after: Duration) -> Result<Checked, sqlx::Error> {
    match name {
        "stock" => inventory::check::stock(tx).await,
        "stock_ledger" => inventory::check::ledger(tx).await,
        "reservations" => inventory::check::reservations(tx).await,
        "orders" => checkout::check::orders(tx).await,
        "order_status" => checkout::check::statuses(tx).await,
        "order_numbers" => checkout::check::numbers(tx).await,
        "order_events" => checkout::check::events(tx).await,
        "outbox" => events::check::outbox(tx, stuck_after).await,
        "deliveries" => digital::check::deliveries(tx).await,
        "statements" => mall::check::statements(tx).await,
        _ => Ok(Checked::default()),
    }
}

/// Runs every invariant over every tenant. `stuck_after`: how long an outbox event may wait
/// past its time before it counts as stuck.
pub async fn report(db: &Db, stuck_after: Duration) -> anyhow::Result<Report> {
    let mut checks: Vec<CheckReport> =
        INVARIANTS.iter().map(|(name, rule)| CheckReport { name, rule, checked: 0, violations: Vec::new() }).collect();
    let mut tenants = 0;
    // the main database and every store database (a tenant with stores on two counts twice)
    for db in db.every_database().await? {
        let mut page = PageRequest { limit: Some(200), cursor: None };
        loop {
            let list = tenancy::tenants::list_tenants(&db, &page).await?;
            for t in &list.items {
                tenants += 1;
                // one snapshot per tenant: the invariants relate tables written together
                let mut tx = db.begin_snapshot(t.id).await?;
                for c in checks.iter_mut() {
                    let found = one(c.name, &mut tx, stuck_after).await?;
                    c.checked += found.checked;
                    c.violations.extend(found.violations.into_iter().map(|v| Found {
                        tenant_id: t.id,
                        subject: v.subject,
                        detail: v.detail,
                    }));
                }
                tx.commit().await?;
            }
            match list.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
    }
    let ok = checks.iter().all(|c| c.violations.is_empty());
    Ok(Report { ok, tenants, checks })
}

pub async fn run(config: &Config, json: bool, stuck_after: Duration) -> anyhow::Result<()> {
    let (databases, db) = app::open_database(config).await?;
    let result = report(&db, stuck_after).await;
    db.close().await;
    databases.shutdown().await;
    let report = result?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    if !report.ok {
        bail!(
            "{} invariants violated ({} violations)",
            report.checks.iter().filter(|c| !c.violations.is_empty()).count(),
            report.violations()
        );
    }
    Ok(())
}
