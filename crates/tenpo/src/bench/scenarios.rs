//! Benchmark scenarios. Each prepares its data through the HTTP API, measures a baseline and
//! the path under test in the same run, and returns a report.

use std::future::Future;
use std::pin::Pin;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::Target;
use std::sync::Arc;

use super::load::{Report, measure, measure_gets};

/// Shoppers checking out while the storefront bench reads the cached list.
const SHOPPERS: usize = 4;

type Scenario = for<'a> fn(&'a Target) -> Pin<Box<dyn Future<Output = anyhow::Result<Report>> + 'a>>;

const SCENARIOS: &[(&str, Scenario)] = &[
    ("admin-read", |t| Box::pin(admin_read(t))),
    ("storefront", |t| Box::pin(storefront(t))),
    ("flash-sale", |t| Box::pin(flash_sale(t))),
    ("search", |t| Box::pin(super::search::search(t))),
    ("checkout", |t| Box::pin(super::checkout::checkout(t))),
    ("events", |t| Box::pin(super::events::events(t))),
    ("console", |t| Box::pin(super::console::console(t))),
    ("storefront-pages", |t| Box::pin(super::storefront_pages::storefront_pages(t))),
];

/// The flash sale with its documented sizes, or those from TENPO_BENCH_UNITS / _SHOPPERS.
async fn flash_sale(t: &Target) -> anyhow::Result<Report> {
    let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
    let f = super::flash::Flash {
        units: env("TENPO_BENCH_UNITS", 1000) as i32,
        shoppers: env("TENPO_BENCH_SHOPPERS", 20_000),
        concurrency: t.concurrency,
    };
    super::flash::flash_sale(t, f).await
}

pub fn find(name: &str) -> Option<Scenario> {
    SCENARIOS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

pub fn names() -> Vec<&'static str> {
    SCENARIOS.iter().map(|(n, _)| *n).collect()
}

/// A fresh tenant with one store and its owner signed in.
pub struct Shop {
    pub tenant_id: kernel::TenantId,
    pub store_handle: String,
    pub owner_token: String,
}

pub async fn new_shop(t: &Target) -> anyhow::Result<Shop> {
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let tenant =
        post(t, "/platform/v1/tenants", &t.operator_token, json!({ "name": "Bench", "type": "single_brand" })).await?;
    let tenant_id = tenant["id"].as_str().context("tenant id")?.to_string();
    let handle = format!("bench-{suffix}");
    let store = post(
        t,
        &format!("/platform/v1/tenants/{tenant_id}/stores"),
        &t.operator_token,
        json!({ "handle": handle, "name": "Bench" }),
    )
    .await?;
    let store_id = store["id"].as_str().context("store id")?;
    let password = "bench-password-1";
    post(
        t,
        &format!("/platform/v1/tenants/{tenant_id}/stores/{store_id}/staff"),
        &t.operator_token,
        json!({ "email": "owner@bench.test", "password": password, "role": "owner" }),
    )
    .await?;
    let login = post(
        t,
        "/admin/v1/auth/login",
        "",
        json!({ "store": handle, "login": "owner@bench.test", "password": password }),
    )
    .await?;
    let token = login["token"].as_str().context("token")?.to_string();
    // bank transfer is offered only with an account to pay into
    let account = json!({ "bank_account": { "bank_name": "ベンチ銀行", "branch_name": "本店", "account_type": "futsu",
                                            "account_number": "1234567", "account_holder_kana": "ベンチ" } });
    let res =
        t.client.patch(t.url("/admin/v1/store/checkout-settings")).bearer_auth(&token).json(&account).send().await?;
    anyhow::ensure!(res.status().is_success(), "bank account: {}", res.status());
    Ok(Shop { tenant_id: tenant_id.parse()?, store_handle: handle, owner_token: token })
}

pub async fn post(t: &Target, path: &str, token: &str, body: Value) -> anyhow::Result<Value> {
    let mut req = t.client.post(t.url(path)).json(&body);
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    let res = req.send().await?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {path}: {status}: {body}");
    }
    Ok(body)
}

fn get_ok(
    client: reqwest::Client,
    url: String,
    token: Option<String>,
) -> impl Fn(u64) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
    move |_| {
        let client = client.clone();
        let url = url.clone();
        let token = token.clone();
        Box::pin(async move {
            let mut req = client.get(&url);
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.map_err(|e| e.to_string())?;
            let status = res.status();
            res.bytes().await.map_err(|e| e.to_string())?;
            if status.is_success() { Ok(()) } else { Err(format!("status {status}")) }
        })
    }
}

/// The authenticated admin read path (token resolution, tenant-scoped transaction, query)
/// against the bare HTTP stack (`/healthz`).
async fn admin_read(t: &Target) -> anyhow::Result<Report> {
    let shop = new_shop(t).await?;
    let base =
        measure("baseline: GET /healthz", t.concurrency, t.duration, get_ok(t.client.clone(), t.url("/healthz"), None))
            .await;
    let read = measure(
        "GET /admin/v1/locations (auth+RLS)",
        t.concurrency,
        t.duration,
        get_ok(t.client.clone(), t.url("/admin/v1/locations"), Some(shop.owner_token.clone())),
    )
    .await;
    Ok(Report { title: format!("admin-read: store {}", shop.store_handle), phases: vec![base, read], notes: vec![] })
}

/// A catalog in Shopify's CSV layout: `products` products with three sizes each, stocked.
pub fn catalog_csv(products: usize) -> String {
    let mut out = String::from(
        "Handle,Title,Body (HTML),Type,Tags,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Inventory Qty,Status\n",
    );
    for i in 0..products {
        for (j, size) in ["S", "M", "L"].iter().enumerate() {
            let head = if j == 0 {
                format!(
                    "Tea {i},\"<p>Loose leaf tea no. {i}, 100 g. 静岡県産の煎茶。</p>\",Tea,\"green, organic\",Size"
                )
            } else {
                ",,,,".to_string()
            };
            out.push_str(&format!(
                "tea-{i},{head},{size},TEA-{i}-{size},{},{},{}\n",
                1000 + 10 * i + 100 * j,
                (i * 7 + j) % 40,
                if j == 0 { "active" } else { "" }
            ));
        }
    }
    out
}

/// The storefront read path: a page of 20 products and single products, served from the
/// read cache, revalidated (304), while the catalog changes, while the store takes orders (every
/// order moves stock rows), and with the cache off (a second server on the same database),
/// beside the bare HTTP stack.
async fn storefront(t: &Target) -> anyhow::Result<Report> {
    let shop = new_shop(t).await?;
    let products = 100;
    let res = t
        .client
        .post(t.url("/admin/v1/products/import"))
        .bearer_auth(&shop.owner_token)
        .header("content-type", "text/csv")
        .body(catalog_csv(products))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("catalog import failed: {}", res.text().await.unwrap_or_default());
    }
    // the planner's statistics of a shop with a catalog, not of the empty tables of a minute ago
    t.analyze().await?;
    let handle = shop.store_handle.clone();
    let list = format!("/store/v1/stores/{handle}/products?limit=20");
    let page = t.client.get(t.url(&list)).send().await?;
    let etag = page.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body: Value = page.json().await?;
    let shown = body["items"].as_array().map(Vec::len).unwrap_or(0);
    let bytes = serde_json::to_vec(&body)?.len();
    let addr = t.addr()?;
    let (c, d) = (t.concurrency, t.duration);
    let fixed = |p: String| -> Arc<dyn Fn(u64) -> String + Send + Sync> { Arc::new(move |_| p.clone()) };
    let details = {
        let handle = handle.clone();
        move || -> Arc<dyn Fn(u64) -> String + Send + Sync> {
            let handle = handle.clone();
            Arc::new(move |n| format!("/store/v1/stores/{handle}/products/tea-{}", n % products as u64))
        }
    };
    let mut phases = vec![
        measure_gets("baseline: GET /healthz", addr, c, d, fixed("/healthz".into()), None, 200).await,
        measure_gets("product list, 20 (cached)", addr, c, d, fixed(list.clone()), None, 200).await,
        measure_gets("product detail (cached)", addr, c, d, details(), None, 200).await,
        measure_gets("product list, If-None-Match (304)", addr, c, d, fixed(list.clone()), etag, 304).await,
    ];
    // the same reads while a merchant edits prices ten times a second: each edit invalidates
    let writer = {
        let client = t.client.clone();
        let token = shop.owner_token.clone();
        let url = t.url("/admin/v1/products?limit=1&sort=title");
        let base = t.base.clone();
        tokio::spawn(async move {
            let Ok(res) = client.get(&url).bearer_auth(&token).send().await else { return 0 };
            let Ok(p) = res.json::<Value>().await else { return 0 };
            let (pid, vid) = (
                p["items"][0]["id"].as_str().unwrap_or_default().to_string(),
                p["items"][0]["variants"][0]["id"].as_str().unwrap_or_default().to_string(),
            );
            let mut edits = 0;
            loop {
                let price = 1000 + (edits % 50);
                let ok = client
                    .patch(format!("{base}/admin/v1/products/{pid}/variants/{vid}"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({ "price": { "amount": price, "currency": "JPY" } }))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    edits += 1;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    };
    phases
        .push(measure_gets("product list while prices change 10/s", addr, c, d, fixed(list.clone()), None, 200).await);
    writer.abort();
    let mut notes = vec![
        "Cached answers are invalidated by catalog changes at commit (LISTEN tenpo_catalog); stock changes announce nothing, and answers that show stock live at most a second (STOCK_STALENESS); all live at most TENPO_STOREFRONT_CACHE_SECS.".to_string(),
    ];
    // the same list while shoppers check out in this store: every order moves stock rows
    let mut stocked = Vec::new();
    for i in 0..10 {
        let p = post(
            t,
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": format!("Shopping item {i}"), "status": "active",
                    "variants": [{ "sku": format!("SHOP{i}"), "price": { "amount": 800 + 10 * i, "currency": "JPY" },
                                   "inventory_quantity": 1_000_000 }] }),
        )
        .await?;
        stocked.push(p["variants"][0]["id"].as_str().context("variant id")?.to_string());
    }
    let cached_alone =
        measure_gets("product list, 20 (cached, again)", addr, c, d, fixed(list.clone()), None, 200).await;
    let plan = Arc::new(super::checkout::Plan::new(&handle, &stocked, 9));
    let name = format!("  checkouts beside it (c={SHOPPERS})");
    let (beside, shoppers) = tokio::join!(
        measure_gets("product list while checkouts run", addr, c, d, fixed(list.clone()), None, 200),
        super::checkout::checkouts(t, &name, plan, SHOPPERS, d)
    );
    let (orders, _) = shoppers?;
    // what the checkouts' own CPU leaves to any read: /healthz under the same load
    let plan = Arc::new(super::checkout::Plan::new(&handle, &stocked, 11));
    let name = format!("  checkouts beside /healthz (c={SHOPPERS})");
    let (healthz, shoppers) = tokio::join!(
        measure_gets("GET /healthz while checkouts run", addr, c, d, fixed("/healthz".into()), None, 200),
        super::checkout::checkouts(t, &name, plan, SHOPPERS, d)
    );
    shoppers?;
    notes.push(format!(
        "cached list while the store takes {:.0} orders/s ({SHOPPERS} shoppers, {} failed): {:.0} req/s = {:.2}x the cached list alone ({:.0} req/s, measured just before); /healthz under the same load {:.0} req/s, so the list is {:.2}x what the load leaves",
        orders.per_second(),
        orders.errors,
        beside.per_second(),
        beside.per_second() / cached_alone.per_second().max(1e-9),
        cached_alone.per_second(),
        healthz.per_second(),
        beside.per_second() / healthz.per_second().max(1e-9)
    ));
    phases.extend([cached_alone, beside, orders, healthz]);
    // before, in the same run: every stock change dropped the store's pages (the trigger of
    // migration 0007, put back for this phase only)
    if let Some(before) = t.with_stock_notify(true).await? {
        let plan = Arc::new(super::checkout::Plan::new(&handle, &stocked, 10));
        let name = format!("  checkouts beside it, before (c={SHOPPERS})");
        let (beside_before, shoppers) = tokio::join!(
            measure_gets("before: list while checkouts run", addr, c, d, fixed(list.clone()), None, 200),
            super::checkout::checkouts(t, &name, plan, SHOPPERS, d)
        );
        t.with_stock_notify(false).await?;
        let (orders_before, _) = shoppers?;
        notes.push(format!(
            "before (every stock change dropped the store's pages, {before}): {:.0} req/s = {:.2}x the cached list alone, at {:.0} orders/s",
            beside_before.per_second(),
            beside_before.per_second() / phases[phases.len() - 4].per_second().max(1e-9),
            orders_before.per_second()
        ));
        phases.extend([beside_before, orders_before]);
    }

    if let Some(plain) = t.uncached_addr() {
        phases.push(measure_gets("product list, 20 (cache off)", plain, c, d, fixed(list.clone()), None, 200).await);
        phases.push(measure_gets("product detail (cache off)", plain, c, d, details(), None, 200).await);
    }
    Ok(Report {
        title: format!(
            "storefront: store {handle}, {products} products x 3 variants, pages of {shown} ({bytes} bytes)"
        ),
        phases,
        notes,
    })
}
