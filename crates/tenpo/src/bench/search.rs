//! `tenpo bench search`: index throughput for 10,000 products (`TENPO_BENCH_PRODUCTS`) and
//! query latency over mixed Japanese and Latin queries at concurrency 16, each beside a
//! baseline of the same run: the catalog import of the same products (writing them to
//! PostgreSQL) for indexing, `/healthz` and the storefront product list for queries. The
//! index lag after the import's last commit is checked against its bar (5 s); queries are
//! measured once the outbox has delivered the import's events, with the read cache and
//! without it (the second server).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use super::Target;
use super::load::{Report, measure_gets};
use super::scenarios::new_shop;

const ADJECTIVES: &[&str] = &["オーガニック", "Premium", "有機", "Organic", "限定", "Classic", "京都", "静岡"];
const KINDS: &[&str] = &[
    "緑茶",
    "抹茶",
    "ほうじ茶",
    "煎茶",
    "玄米茶",
    "紅茶",
    "烏龍茶",
    "Coffee",
    "Green Tea",
    "Matcha",
    "Sencha",
    "Hojicha",
    "Mug",
    "Teapot",
    "急須",
    "湯呑み",
];
const FORMS: &[&str] = &["ティーバッグ", "パウダー", "Loose Leaf", "Gift Set", "茶葉", "Tin", "ラテ", "Bottle"];

/// Queries shoppers type: Japanese (bigrams, one character, half-width, hiragana) and Latin
/// (words, typos, prefixes), with and without filters.
const QUERIES: &[&str] = &[
    "q=%E7%B7%91%E8%8C%B6",                                     // 緑茶
    "q=%E8%8C%B6",                                              // 茶
    "q=%E6%8A%B9%E8%8C%B6%E3%83%A9%E3%83%86",                   // 抹茶ラテ
    "q=%EF%BD%B8%EF%BE%9E%EF%BE%98%EF%BD%B0%EF%BE%9D",          // ｸﾞﾘｰﾝ (no match: half-width folded)
    "q=%E3%81%BB%E3%81%86%E3%81%98%E8%8C%B6",                   // ほうじ茶
    "q=%E3%83%86%E3%82%A3%E3%83%BC%E3%83%90%E3%83%83%E3%82%B0", // ティーバッグ
    "q=green+tea",
    "q=GREEN+TEA&sort=price_asc",
    "q=tae",
    "q=matcha+gift",
    "q=sencah",
    "q=orga",
    "q=%E9%9D%99%E5%B2%A1&price_max=3000", // 静岡, price filter
    "q=teapot&in_stock=true",
    "sort=newest",
    "q=coffee&sort=price_desc&limit=50",
];

/// A catalog of `products` products (two sizes each) with mixed Japanese and English titles,
/// starting at number `from`.
pub fn search_catalog_csv(from: usize, products: usize) -> String {
    let mut out = String::from(
        "Handle,Title,Body (HTML),Type,Tags,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Inventory Qty,Status\n",
    );
    for i in from..from + products {
        let title = format!(
            "{} {} {} {i}",
            ADJECTIVES[i % ADJECTIVES.len()],
            KINDS[(i / 7) % KINDS.len()],
            FORMS[(i / 3) % FORMS.len()]
        );
        for (j, size) in ["S", "L"].iter().enumerate() {
            let head = if j == 0 {
                format!("\"{title}\",\"<p>{title}. 日本の茶畑から。 Shipped from Japan.</p>\",Tea,\"tea, gift\",Size")
            } else {
                ",,,,".to_string()
            };
            out.push_str(&format!(
                "p-{i},{head},{size},P-{i}-{size},{},{},{}\n",
                500 + (i * 37) % 5000 + 500 * j,
                (i * 7 + j) % 20,
                if j == 0 { "active" } else { "" }
            ));
        }
    }
    out
}

pub async fn search(t: &Target) -> anyhow::Result<Report> {
    let products: usize = std::env::var("TENPO_BENCH_PRODUCTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let shop = new_shop(t).await?;
    let handle = shop.store_handle.clone();
    let mut notes = Vec::new();

    // baseline: the same products written to PostgreSQL through the catalog import
    let chunk = 1000;
    let started = Instant::now();
    for from in (0..products).step_by(chunk) {
        let res = t
            .client
            .post(t.url("/admin/v1/products/import"))
            .bearer_auth(&shop.owner_token)
            .header("content-type", "text/csv")
            .timeout(Duration::from_secs(600))
            .body(search_catalog_csv(from, chunk.min(products - from)))
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("catalog import failed: {}", res.text().await.unwrap_or_default());
        }
    }
    let import = started.elapsed();
    let import_rate = products as f64 / import.as_secs_f64();

    // the worker's outbox sync indexes what the import's events mark
    let total_url = t.url(&format!("/store/v1/stores/{handle}/search?limit=1&facets=false"));
    loop {
        let v: Value = t.client.get(&total_url).send().await?.json().await?;
        if v["total"].as_u64() == Some(products as u64) {
            break;
        }
        if started.elapsed() > Duration::from_secs(1800) {
            bail!("the sync did not index {products} products in time (at {})", v["total"]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let synced = started.elapsed();
    let lag = synced - import;
    // the outbox still delivers the import's events (each marks its product again); queries
    // are measured once it is done, not beside that backlog
    let mut drained = None;
    while let Some(n) = t.outbox_pending().await? {
        if n == 0 {
            drained = Some(started.elapsed());
            break;
        }
        if started.elapsed() > Duration::from_secs(1800) {
            bail!("the outbox did not deliver the import's events in time ({n} left)");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // and the sync has applied what those events marked again
    tokio::time::sleep(Duration::from_secs(1)).await;
    notes.push(format!(
        "index throughput, {products} products x 2 variants; baseline = catalog import into PostgreSQL: {import_rate:.0} products/s ({:.1} s)",
        import.as_secs_f64()
    ));
    notes.push(format!(
        "  import + search sync until all are searchable: {:.0} products/s end to end; the index was {:.2} s behind the import's last commit (bar: under 5 s{})",
        products as f64 / synced.as_secs_f64(),
        lag.as_secs_f64(),
        if lag < Duration::from_secs(5) { ", met" } else { ", MISSED" }
    ));
    if let Some(d) = drained {
        notes.push(format!(
            "  the outbox delivered the import's events (webhooks, search marks again) {:.1} s after the import's last commit",
            (d - import).as_secs_f64()
        ));
    }

    // a full reindex into a fresh index: read, build documents, write (local runs only)
    if let Some(local) = &t.local {
        let dir = std::env::temp_dir().join(format!("tenpo-bench-search-{}", uuid::Uuid::new_v4().simple()));
        let index = search::Search::open(&search::SearchSettings::Embedded {
            dir: dir.clone(),
            write: true,
            writer_memory: search::embedded::DEFAULT_WRITER_MEMORY,
        })
        .await?;
        let store_ref: kernel::StoreRef = handle.parse().unwrap_or(kernel::StoreRef::Handle(handle.clone()));
        let (tenant, store, _) =
            tenancy::stores::resolve(&local.db, &store_ref).await?.context("bench store not found")?;
        let started = Instant::now();
        let report = search::reindex::reindex_store(
            &local.db,
            &index,
            tenant,
            store,
            &search::reindex::ReindexOptions::default(),
            &mut |_, _| {},
        )
        .await?;
        let took = started.elapsed();
        let rate = report.walked as f64 / took.as_secs_f64();
        notes.push(format!(
            "  reindex into a fresh embedded index (read + build + write, batches of 500): {rate:.0} products/s ({:.1} s) = {:.1}x the import",
            took.as_secs_f64(),
            rate / import_rate
        ));
        drop(index);
        let _ = std::fs::remove_dir_all(&dir);
    }

    // query latency at concurrency 16
    let c = 16;
    let d = t.duration;
    let addr = t.addr()?;
    let fixed = |p: String| -> Arc<dyn Fn(u64) -> String + Send + Sync> { Arc::new(move |_| p.clone()) };
    let mixed: Arc<dyn Fn(u64) -> String + Send + Sync> = {
        let handle = handle.clone();
        Arc::new(move |n| format!("/store/v1/stores/{handle}/search?{}", QUERIES[n as usize % QUERIES.len()]))
    };
    let list = format!("/store/v1/stores/{handle}/products?limit=20");
    let mut phases = vec![
        measure_gets("baseline: GET /healthz", addr, c, d, fixed("/healthz".into()), None, 200).await,
        measure_gets("product list, 20 (cached)", addr, c, d, fixed(list.clone()), None, 200).await,
    ];
    if let Some(plain) = t.uncached_addr() {
        phases.push(measure_gets("product list, 20 (cache off)", plain, c, d, fixed(list.clone()), None, 200).await);
    }
    if let Some(plain) = t.uncached_addr() {
        // the index and a catalog read for every product shown: the cost without the read cache
        phases.push(
            measure_gets("search, mixed JA/Latin queries (cache off)", plain, c, d, mixed.clone(), None, 200).await,
        );
    }
    phases.push(measure_gets("search, mixed JA/Latin queries", addr, c, d, mixed, None, 200).await);
    let search_phase = phases.last().cloned();
    if let Some(s) = search_phase {
        notes.push(format!(
            "search: {:.0} queries/s, p99 {:.2} ms (bars: at least 3,000/s{}, p99 under 15 ms{})",
            s.per_second(),
            s.percentile_ms(0.99),
            if s.per_second() >= 3000.0 { ", met" } else { ", MISSED" },
            if s.percentile_ms(0.99) < 15.0 { ", met" } else { ", MISSED" }
        ));
        for base in &phases[..phases.len() - 1] {
            notes.push(format!(
                "search p50 {:.2} ms / p99 {:.2} ms = {:.1}x / {:.1}x the p50 / p99 of {}",
                s.percentile_ms(0.5),
                s.percentile_ms(0.99),
                s.percentile_ms(0.5) / base.percentile_ms(0.5).max(1e-6),
                s.percentile_ms(0.99) / base.percentile_ms(0.99).max(1e-6),
                base.name
            ));
        }
    }
    notes.push(format!("{} queries in rotation: {}", QUERIES.len(), QUERIES.join(" | ")));
    Ok(Report {
        title: format!("search: store {handle}, {products} products, concurrency {c} for queries"),
        phases,
        notes,
    })
}
