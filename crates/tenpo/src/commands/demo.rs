//! `tenpo demo`: a ready-to-try Tenpo with a demo tenant, store, location, products and an owner
//! login, printing where to go and how to sign in.

use std::time::Duration;

use db::Db;
use kernel::StoreRef;
use kernel::access::{Acting, Role};
use tenancy::staff::CreateStaff;
use tenancy::stores::CreateStore;
use tenancy::tenants::{CreateTenant, TenantKind};

use crate::app::{self, Parts};
use crate::config::Config;

pub const DEMO_STORE: &str = "demo";
pub const DEMO_OWNER_EMAIL: &str = "owner@demo.tenpo.test";
pub const DEMO_OWNER_PASSWORD: &str = "tenpo-demo-password";

/// Seeds the demo tenant and store unless the store exists. Idempotent.
pub async fn seed_demo(db: &Db) -> anyhow::Result<()> {
    if tenancy::stores::resolve(db, &StoreRef::Handle(DEMO_STORE.into())).await?.is_some() {
        return Ok(());
    }
    let tenant = tenancy::tenants::create_tenant(
        db,
        CreateTenant { name: "Tenpo Demo Coffee".into(), kind: TenantKind::SingleBrand, default_currency: None },
    )
    .await?;
    let store = tenancy::stores::create_store(
        db,
        tenant.id,
        CreateStore { handle: DEMO_STORE.into(), name: "Tenpo Demo Coffee".into(), default_location: Some(true) },
    )
    .await?;
    let mut tx = db.begin(tenant.id).await?;
    tenancy::staff::create_staff(
        &mut tx,
        store.id,
        Acting::Operator,
        CreateStaff {
            name: "Demo Owner".into(),
            email: Some(DEMO_OWNER_EMAIL.into()),
            login_id: Some("owner".into()),
            phone: None,
            password: DEMO_OWNER_PASSWORD.into(),
            role: Role::Owner,
            vendor_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant.id, store_id = %store.id, "demo data seeded");
    Ok(())
}

pub async fn demo(mut config: Config, seed_only: bool) -> anyhow::Result<()> {
    let generated_token = config.operator_token.is_none();
    if generated_token {
        config.operator_token = Some(format!("op_{}", super::operator::generate_password()));
    }
    let (databases, db) = app::open_database(&config).await?;
    seed_demo(&db).await?;
    if seed_only {
        println!("demo data is in place (store {DEMO_STORE:?})");
        db.close().await;
        databases.shutdown().await;
        return Ok(());
    }
    let mut running = app::start(&db, &config, Parts { http: true, worker: true }, None).await?;
    let base = format!("http://{}", running.addr.map(|a| a.to_string()).unwrap_or_default());
    let token = config.operator_token.clone().unwrap_or_default();
    println!(
        "\n  Tenpo demo is running.\n\n  \
         API reference   {base}/docs\n  \
         OpenAPI         {base}/openapi.json\n  \
         Readiness       {base}/readyz\n  \
         Storefront      {base}/store/v1/stores/{DEMO_STORE}/products\n\n  \
         Owner sign-in   store {DEMO_STORE:?}, login {DEMO_OWNER_EMAIL:?}, password {DEMO_OWNER_PASSWORD:?}\n  \
         Operator token  {token}{note}\n\n  \
         Try:\n    curl -s {base}/admin/v1/auth/login -H 'content-type: application/json' \\\n      \
         -d '{{\"store\":\"{DEMO_STORE}\",\"login\":\"{DEMO_OWNER_EMAIL}\",\"password\":\"{DEMO_OWNER_PASSWORD}\"}}'\n\n  \
         Data lives in {data}. Ctrl-C stops Tenpo{pg}.\n",
        note = if generated_token { " (generated for this run; set TENPO_OPERATOR_TOKEN to fix it)" } else { "" },
        data = config.data_dir.display(),
        pg = if databases.is_private_cluster() { " and its private PostgreSQL" } else { "" },
    );
    tokio::select! {
        _ = app::shutdown_signal() => {}
        _ = running.wait() => {}
    }
    running.stop(Duration::from_secs(config.http.shutdown_grace_secs)).await;
    db.close().await;
    databases.shutdown().await;
    Ok(())
}
