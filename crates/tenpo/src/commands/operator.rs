//! Operator commands: the same use cases as the operator API, straight against the database.

use anyhow::{Context, bail};
use kernel::access::{Acting, Role};
use kernel::{PageRequest, StatementId, StoreRef, TenantId, VendorId};
use rand::Rng;
use tenancy::staff::CreateStaff;
use tenancy::stores::CreateStore;
use tenancy::tenants::{CreateTenant, TenantKind};

use crate::app;
use crate::cli::{
    RoleArg, StaffCommand, StatementCommand, StatementStatusArg, StoreCommand, TenantCommand, TenantType,
    VendorCommand, VendorStatusArg,
};
use crate::config::Config;

fn print(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub async fn tenant(config: &Config, cmd: TenantCommand) -> anyhow::Result<()> {
    let (databases, db) = app::open_database(config).await?;
    let result = async {
        match cmd {
            TenantCommand::Create { name, kind, currency } => {
                let kind = match kind {
                    TenantType::SingleBrand => TenantKind::SingleBrand,
                    TenantType::Mall => TenantKind::Mall,
                };
                let currency = currency.parse().map_err(|e| anyhow::anyhow!("--currency: {e}"))?;
                let input = CreateTenant { name, kind, default_currency: Some(currency) };
                print(&tenancy::tenants::create_tenant(&db, input).await?)
            }
            TenantCommand::List => {
                let mut page = PageRequest { limit: Some(200), cursor: None };
                let mut all = Vec::new();
                loop {
                    let p = tenancy::tenants::list_tenants(&db, &page).await?;
                    all.extend(p.items);
                    match p.next_cursor {
                        Some(c) => page.cursor = Some(c),
                        None => break,
                    }
                }
                print(&all)
            }
        }
    }
    .await;
    db.close().await;
    databases.shutdown().await;
    result
}

pub async fn store(config: &Config, cmd: StoreCommand) -> anyhow::Result<()> {
    let (databases, db) = app::open_database(config).await?;
    let result = async {
        match cmd {
            StoreCommand::Create { tenant, handle, name, no_default_location } => {
                let input = CreateStore { handle, name, default_location: Some(!no_default_location) };
                print(&tenancy::stores::create_store(&db, TenantId(tenant), input).await?)
            }
            StoreCommand::Route { store, to } => {
                let store_ref: StoreRef = store.parse().unwrap_or(StoreRef::Handle(store.clone()));
                let Some((tenant, store_id, _)) = tenancy::stores::resolve(&db, &store_ref).await? else {
                    bail!("no store {store:?}");
                };
                let input = db::routing::SetRoute { db_key: to };
                print(&db::routing::set_route(&db, tenant, store_id, input).await?)
            }
            StoreCommand::Move { store, to, grace_secs, abort } => {
                let store_ref: StoreRef = store.parse().unwrap_or(StoreRef::Handle(store.clone()));
                let Some((tenant, store_id, _)) = tenancy::stores::resolve(&db, &store_ref).await? else {
                    bail!("no store {store:?}");
                };
                if abort {
                    let report = db::moving::abort(&db, tenant, store_id).await?;
                    eprintln!("move {} aborted: the store stays on {}", report.move_id, report.from);
                    return print(&report);
                }
                // pauses for the tests that stop a move mid-way (milliseconds)
                let pause = |name: &str| {
                    std::time::Duration::from_millis(std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(0))
                };
                let options = db::moving::MoveOptions {
                    grace: std::time::Duration::from_secs(grace_secs),
                    copy_pause: pause("TENPO_MOVE_COPY_PAUSE_MS"),
                    freeze_hold: pause("TENPO_MOVE_FREEZE_HOLD_MS"),
                    copy_batch: std::env::var("TENPO_MOVE_COPY_BATCH").ok().and_then(|v| v.parse().ok()).unwrap_or(0),
                };
                let to = to.unwrap_or_default();
                let report = db::moving::run(&db, tenant, store_id, &to, &options, &|line| eprintln!("{line}")).await?;
                if let Some(ms) = report.freeze_ms {
                    eprintln!("the store's writes were frozen for {ms} ms");
                }
                print(&report)
            }
        }
    }
    .await;
    db.close().await;
    databases.shutdown().await;
    result
}

/// A readable random password: 16 characters from an alphabet without look-alikes.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

pub async fn staff(config: &Config, cmd: StaffCommand) -> anyhow::Result<()> {
    let (databases, db) = app::open_database(config).await?;
    let result = async {
        match cmd {
            StaffCommand::Create { store, role, email, login_id, phone, name, vendor, password } => {
                let store_ref: StoreRef = store.parse().unwrap_or(StoreRef::Handle(store.clone()));
                let Some((tenant, store_id, _)) = tenancy::stores::resolve(&db, &store_ref).await? else {
                    bail!("no store {store:?}");
                };
                let generated = password.is_none();
                let password = password.unwrap_or_else(generate_password);
                let role = match role {
                    RoleArg::Owner => Role::Owner,
                    RoleArg::Admin => Role::Admin,
                    RoleArg::Staff => Role::Staff,
                };
                let vendor_id = vendor.map(|v| Some(VendorId(v)));
                let input = CreateStaff { name, email, login_id, phone, password: password.clone(), role, vendor_id };
                let mut tx = db.begin(tenant).await?;
                let member = tenancy::staff::create_staff(&mut tx, store_id, Acting::Operator, input).await?;
                tx.commit().await.context("commit")?;
                let mut out = serde_json::to_value(&member)?;
                if generated {
                    out["generated_password"] = serde_json::Value::String(password);
                }
                print(&out)
            }
        }
    }
    .await;
    db.close().await;
    databases.shutdown().await;
    result
}

pub async fn vendor(config: &Config, cmd: VendorCommand) -> anyhow::Result<()> {
    use tenancy::vendors::{self, CreateVendor, UpdateVendor, VendorStatus};
    let (databases, db) = app::open_database(config).await?;
    let result = async {
        match cmd {
            VendorCommand::Create { tenant, name, commission_bps, registration_number, bank_account } => {
                let mut tx = db.begin(TenantId(tenant)).await?;
                let input =
                    CreateVendor { name, commission_rate_bps: commission_bps, registration_number, bank_account };
                let vendor = vendors::create_vendor(&mut tx, Acting::Operator, input).await?;
                tx.commit().await.context("commit")?;
                db::mirror::refresh_tenant_or_warn(&db, TenantId(tenant)).await;
                print(&vendor)
            }
            VendorCommand::Update {
                tenant,
                vendor,
                name,
                status,
                commission_bps,
                effective_from,
                registration_number,
                bank_account,
            } => {
                let mut tx = db.begin(TenantId(tenant)).await?;
                let input = UpdateVendor {
                    name,
                    status: status.map(|s| match s {
                        VendorStatusArg::Active => VendorStatus::Active,
                        VendorStatusArg::Suspended => VendorStatus::Suspended,
                    }),
                    commission_rate_bps: commission_bps,
                    commission_effective_from: effective_from,
                    registration_number: registration_number.map(Some),
                    bank_account,
                };
                let vendor = vendors::update_vendor(&mut tx, Acting::Operator, VendorId(vendor), input).await?;
                tx.commit().await.context("commit")?;
                db::mirror::refresh_tenant_or_warn(&db, TenantId(tenant)).await;
                print(&vendor)
            }
            VendorCommand::List { tenant } => {
                let mut tx = db.begin(TenantId(tenant)).await?;
                let mut page = PageRequest { limit: Some(200), cursor: None };
                let mut all = Vec::new();
                loop {
                    let p = vendors::list_vendors(&mut tx, Acting::Operator, &page).await?;
                    all.extend(p.items);
                    match p.next_cursor {
                        Some(c) => page.cursor = Some(c),
                        None => break,
                    }
                }
                tx.commit().await.context("commit")?;
                print(&all)
            }
        }
    }
    .await;
    db.close().await;
    databases.shutdown().await;
    result
}

/// Statements, with the operator's reach: every vendor's (the same rules as the API, in
/// `mall::statements`).
pub async fn statement(config: &Config, cmd: StatementCommand) -> anyhow::Result<()> {
    use mall::statements::{self, MarkPaid, StatementFilter, StatementStatus};
    let (databases, db) = app::open_database(config).await?;
    let result = async {
        match cmd {
            StatementCommand::List { tenant, vendor, status } => {
                let mut tx =
                    tenancy::stores::tenant_data_database(&db, TenantId(tenant)).await?.begin(TenantId(tenant)).await?;
                tenancy::tenants::find(&mut tx).await?.ok_or(tenancy::TenancyError::TenantNotFound)?;
                let filter = StatementFilter {
                    vendor_id: vendor.map(VendorId),
                    status: status.map(|s| match s {
                        StatementStatusArg::Closed => StatementStatus::Closed,
                        StatementStatusArg::Paid => StatementStatus::Paid,
                    }),
                };
                let mut page = PageRequest { limit: Some(200), cursor: None };
                let mut all = Vec::new();
                loop {
                    let p = statements::list(&mut tx, Acting::Operator, &filter, &page).await?;
                    all.extend(p.items);
                    match p.next_cursor {
                        Some(c) => page.cursor = Some(c),
                        None => break,
                    }
                }
                tx.commit().await.context("commit")?;
                print(&all)
            }
            StatementCommand::Show { tenant, statement } => {
                let mut tx =
                    tenancy::stores::tenant_data_database(&db, TenantId(tenant)).await?.begin(TenantId(tenant)).await?;
                let s = statements::get(&mut tx, Acting::Operator, StatementId(statement)).await?;
                tx.commit().await.context("commit")?;
                print(&s)
            }
            StatementCommand::Open { tenant, vendor } => {
                let mut tx =
                    tenancy::stores::tenant_data_database(&db, TenantId(tenant)).await?.begin(TenantId(tenant)).await?;
                let s = statements::open(&mut tx, Acting::Operator, VendorId(vendor)).await?;
                tx.commit().await.context("commit")?;
                print(&s)
            }
            StatementCommand::Close { tenant, vendor } => {
                let mut tx =
                    tenancy::stores::tenant_data_database(&db, TenantId(tenant)).await?.begin(TenantId(tenant)).await?;
                let s = statements::close_now(&mut tx, Acting::Operator, VendorId(vendor)).await?;
                tx.commit().await.context("commit")?;
                print(&s)
            }
            StatementCommand::Paid { tenant, statement, paid_on, bank_reference } => {
                let mut tx =
                    tenancy::stores::tenant_data_database(&db, TenantId(tenant)).await?.begin(TenantId(tenant)).await?;
                let input = MarkPaid { paid_on, bank_reference };
                let s = statements::mark_paid(&mut tx, Acting::Operator, StatementId(statement), input).await?;
                tx.commit().await.context("commit")?;
                print(&s)
            }
            StatementCommand::Csv { tenant, statement, encoding, out } => {
                let mut tx =
                    tenancy::stores::tenant_data_database(&db, TenantId(tenant)).await?.begin(TenantId(tenant)).await?;
                let text = statements::csv(&mut tx, Acting::Operator, StatementId(statement)).await?;
                tx.commit().await.context("commit")?;
                let bytes = kernel::csv_file::encode(&text, encoding.into(), "statement.csv")?.bytes;
                match out {
                    Some(path) => std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display())),
                    None => {
                        use std::io::Write;
                        let mut stdout = std::io::stdout().lock();
                        stdout.write_all(&bytes)?;
                        stdout.flush()?;
                        Ok(())
                    }
                }
            }
        }
    }
    .await;
    db.close().await;
    databases.shutdown().await;
    result
}
