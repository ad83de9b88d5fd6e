//! `tenpo bench console`: the admin console's order list with 10,000 orders (a year of a
//! small shop's orders, one every 52 minutes), its server time as the console reports it
//! (`Server-Timing: app;dur=`), beside `/healthz` and the JSON admin order list of the same
//! data, in the same run.
//!
//! A few orders are placed through the storefront API (cart, items, checkout); the rest are
//! copies of them written with SQL in one statement per table (orders, their payments,
//! addresses and lines), each with its own id, number and time, spread over a year.
//! The console's session cookie is the staff sign-in's own token, so the owner's API token
//! signs the bench's requests in. The server-time phases run one request at a time (the
//! figure is the page's own, not the queue's); the throughput phases at `--concurrency`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::Target;
use super::load::{Phase, Report, measure};
use super::scenarios::{catalog_csv, new_shop, post};

/// Orders in the store when the list is measured (`TENPO_BENCH_ORDERS` to change).
const ORDERS: usize = 10_000;
/// Orders placed through the API, the templates of the rest.
const PLACED: usize = 20;
/// Copies newer than this (about three days of orders) stay as placed (awaiting payment); the
/// older ones are completed and paid, as a year of a shop's orders is.
const OPEN: usize = 80;

pub async fn console(t: &Target) -> anyhow::Result<Report> {
    let orders = std::env::var("TENPO_BENCH_ORDERS").ok().and_then(|v| v.parse().ok()).unwrap_or(ORDERS);
    let shop = new_shop(t).await?;
    let token = shop.owner_token.clone();
    let patch = t
        .client
        .patch(t.url("/admin/v1/store/checkout-settings"))
        .bearer_auth(&token)
        .json(&json!({
            "shipping_flat_fee": { "amount": 800, "currency": "JPY" },
            "bank_account": { "bank_name": "テスト銀行", "branch_name": "本店", "account_type": "futsu",
                              "account_number": "1234567", "account_holder_kana": "テンポ" }
        }))
        .send()
        .await?;
    if !patch.status().is_success() {
        bail!("checkout settings: {}", patch.text().await.unwrap_or_default());
    }
    let import = t
        .client
        .post(t.url("/admin/v1/products/import"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(catalog_csv(10))
        .send()
        .await?;
    if !import.status().is_success() {
        bail!("catalog import: {}", import.text().await.unwrap_or_default());
    }
    let listed: Value =
        t.client.get(t.url("/admin/v1/products?limit=10")).bearer_auth(&token).send().await?.json().await?;
    let variants: Vec<String> = listed["items"]
        .as_array()
        .context("products")?
        .iter()
        .flat_map(|p| p["variants"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect();
    if variants.is_empty() {
        bail!("no variants to order");
    }
    let store = format!("/store/v1/stores/{}", shop.store_handle);
    for n in 0..PLACED.min(orders) {
        let cart = post(t, &format!("{store}/carts"), "", json!({})).await?;
        let (id, secret) =
            (cart["cart"]["id"].as_str().context("cart")?, cart["secret"].as_str().context("secret")?.to_string());
        let line = json!({ "variant_id": variants[n % variants.len()], "quantity": 1 + n % 3 });
        let res = t
            .client
            .post(t.url(&format!("{store}/carts/{id}/items")))
            .header("x-cart-secret", &secret)
            .json(&line)
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("add to cart: {}", res.text().await.unwrap_or_default());
        }
        let (name, kana) = NAMES[n % NAMES.len()];
        let body = json!({
            "email": format!("customer{n}@bench.test"),
            "payment_method": "bank_transfer",
            "shipping_address": { "name": name, "name_kana": kana, "postal_code": "150-0001",
                                  "prefecture": "東京都", "city": "渋谷区神宮前", "line1": "1-2-3",
                                  "phone": format!("090-1234-{:04}", n) }
        });
        let res = t
            .client
            .post(t.url(&format!("{store}/carts/{id}/checkout")))
            .header("x-cart-secret", &secret)
            .json(&body)
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("checkout: {}", res.text().await.unwrap_or_default());
        }
    }
    let seeded = seed(t, &shop.tenant_id, orders).await?;
    t.analyze().await?;

    let cookie = format!("tenpo_console={token}");
    let (c, d) = (t.concurrency, t.duration);
    let mut phases = Vec::new();
    let mut notes = Vec::new();
    let one = |name: &str, path: &str, auth: Auth| {
        let timing = Arc::new(Mutex::new(Vec::new()));
        (name.to_string(), get(t.client.clone(), t.url(path), auth, timing.clone()), timing)
    };
    // server time, one request at a time
    for (name, path, auth) in [
        ("baseline: GET /healthz (c=1)", "/healthz".to_string(), Auth::None),
        ("GET /admin/v1/orders JSON (c=1)", "/admin/v1/orders".to_string(), Auth::Bearer(token.clone())),
        ("GET /console/orders (c=1)", "/console/orders".to_string(), Auth::Cookie(cookie.clone())),
        (
            "  ?name=ヤマダ (c=1)",
            "/console/orders?name=%E3%83%A4%E3%83%9E%E3%83%80".to_string(),
            Auth::Cookie(cookie.clone()),
        ),
        (
            "  ?status=pending_payment&method (c=1)",
            "/console/orders?status=pending_payment&payment_method=bank_transfer".to_string(),
            Auth::Cookie(cookie.clone()),
        ),
        ("  ?phone=5678 (c=1)", "/console/orders?phone=5678".to_string(), Auth::Cookie(cookie.clone())),
        ("GET /console/ home (c=1)", "/console/".to_string(), Auth::Cookie(cookie.clone())),
    ] {
        let (name, f, timing) = one(name, &path, auth);
        let phase = measure(&name, 1, d, f).await;
        if let Some(note) = server_time(&name, &timing) {
            notes.push(note);
        }
        phases.push(phase);
    }
    // throughput at the configured concurrency
    for (name, path, auth) in [
        (format!("GET /admin/v1/orders JSON (c={c})"), "/admin/v1/orders".to_string(), Auth::Bearer(token.clone())),
        (format!("GET /console/orders (c={c})"), "/console/orders".to_string(), Auth::Cookie(cookie.clone())),
    ] {
        let (name, f, timing) = one(&name, &path, auth);
        let phase = measure(&name, c, d, f).await;
        if let Some(note) = server_time(&name, &timing) {
            notes.push(note);
        }
        phases.push(phase);
    }
    notes.push(
        "Server time is the console's own Server-Timing (app;dur): from the request reaching the console's router to its answer; the JSON list has none, its client latency at c=1 is its comparison.".into(),
    );
    Ok(Report {
        title: format!(
            "console: store {}, {seeded} orders over a year ({PLACED} placed through the API, the rest copied with SQL), pages of 50",
            shop.store_handle
        ),
        phases: phases.into_iter().collect::<Vec<Phase>>(),
        notes,
    })
}

/// Shoppers' names, with kana: the list's name filter has some to find.
const NAMES: [(&str, &str); 4] = [
    ("山田 花子", "ヤマダ ハナコ"),
    ("佐藤 太郎", "サトウ タロウ"),
    ("鈴木 一郎", "スズキ イチロウ"),
    ("田中 美咲", "タナカ ミサキ"),
];

#[derive(Clone)]
enum Auth {
    None,
    Bearer(String),
    Cookie(String),
}

type Request = Box<dyn Fn(u64) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// A GET that succeeds on 200 and keeps the answer's `Server-Timing: app;dur=` (ms), if any.
fn get(client: reqwest::Client, url: String, auth: Auth, timing: Arc<Mutex<Vec<f64>>>) -> Request {
    Box::new(move |_| {
        let (client, url, auth, timing) = (client.clone(), url.clone(), auth.clone(), timing.clone());
        Box::pin(async move {
            let mut req = client.get(&url);
            req = match &auth {
                Auth::None => req,
                Auth::Bearer(t) => req.bearer_auth(t),
                Auth::Cookie(c) => req.header("cookie", c),
            };
            let res = req.send().await.map_err(|e| e.to_string())?;
            let status = res.status();
            let dur = res
                .headers()
                .get("server-timing")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split("dur=").nth(1))
                .and_then(|v| v.split([';', ',']).next())
                .and_then(|v| v.trim().parse::<f64>().ok());
            res.bytes().await.map_err(|e| e.to_string())?;
            if status != reqwest::StatusCode::OK {
                return Err(format!("{url}: status {status}"));
            }
            if let (Some(ms), Ok(mut all)) = (dur, timing.lock()) {
                all.push(ms);
            }
            Ok(())
        })
    })
}

fn server_time(name: &str, timing: &Mutex<Vec<f64>>) -> Option<String> {
    let mut all = timing.lock().ok()?.clone();
    if all.is_empty() {
        return None;
    }
    all.sort_by(f64::total_cmp);
    let at = |p: f64| all[((all.len() - 1) as f64 * p).round() as usize];
    Some(format!(
        "server time {:<40} p50 {:>7.2} ms  p90 {:>7.2} ms  p99 {:>7.2} ms  ({} answers)",
        name.trim(),
        at(0.5),
        at(0.9),
        at(0.99),
        all.len()
    ))
}

/// Copies the store's placed orders (with their payments, addresses and lines) until it has `total`, one statement
/// per table, as the database owner: each copy its own id, the next order number and a moment
/// 52 minutes before the previous one. Answers how many orders the store has.
async fn seed(t: &Target, tenant: &kernel::TenantId, total: usize) -> anyhow::Result<i64> {
    use sqlx::Connection;
    let local = t.local.as_ref().context("tenpo bench console seeds its orders with SQL: run it without --url")?;
    let mut conn = sqlx::PgConnection::connect_with(&local.maintenance.clone().database(&local.database)).await?;
    // row-level security reads the tenant from the session, as the app's transactions set it
    sqlx::query("SELECT set_config('app.tenant_id', $1, false)").bind(tenant.to_string()).execute(&mut conn).await?;
    let placed: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&mut conn)
        .await?;
    let copies = (total as i64 - placed).max(0);
    if copies > 0 {
        sqlx::query(
            "CREATE TEMP TABLE bench_seed AS
               SELECT t.id AS template, gen_random_uuid() AS id, g AS n
                 FROM generate_series(1, $2::bigint) g
                 JOIN (SELECT id, row_number() OVER (ORDER BY placed_at, id) - 1 AS k
                         FROM orders WHERE tenant_id = $1) t ON t.k = g % $3",
        )
        .bind(tenant)
        .bind(copies)
        .bind(placed)
        .execute(&mut conn)
        .await?;
        let columns = |table: &'static str| {
            sqlx::query_scalar::<_, String>(
                "SELECT column_name::text FROM information_schema.columns
                  WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'
                  ORDER BY ordinal_position",
            )
            .bind(table)
        };
        let order_cols = columns("orders").fetch_all(&mut conn).await?;
        let pick = |c: &str| match c {
            "id" => "s.id".to_string(),
            "order_number" => "(SELECT max(order_number) FROM orders WHERE tenant_id = o.tenant_id) + s.n".to_string(),
            "placed_at" | "created_at" | "updated_at" => format!("o.{c} - s.n * interval '52 minutes'"),
            "cart_id" | "idempotency_key" => "NULL".to_string(),
            // a shop's year: all but the last few days' orders are done
            "status" => format!("CASE WHEN s.n > {OPEN} THEN 'completed' ELSE o.status END"),
            other => format!("o.{other}"),
        };
        let list = order_cols.join(", ");
        let select = order_cols.iter().map(|c| pick(c)).collect::<Vec<_>>().join(", ");
        sqlx::query(&format!(
            "INSERT INTO orders ({list}) SELECT {select} FROM bench_seed s JOIN orders o ON o.id = s.template"
        ))
        .execute(&mut conn)
        .await?;
        // what the list reads besides the order: its payment, and the addresses its name and
        // phone filters search; the lines, for the vendor's part and the order's page
        for table in ["payments", "order_addresses", "order_items"] {
            let cols = columns(table).fetch_all(&mut conn).await?;
            let list = cols.join(", ");
            let select = cols
                .iter()
                .map(|c| match c.as_str() {
                    "id" => "gen_random_uuid()".to_string(),
                    "order_id" => "s.id".to_string(),
                    "created_at" | "updated_at" | "due_at" => format!("x.{c} - s.n * interval '52 minutes'"),
                    "status" if table == "payments" => format!("CASE WHEN s.n > {OPEN} THEN 'confirmed' ELSE x.status END"),
                    "received_amount" if table == "payments" => {
                        format!("CASE WHEN s.n > {OPEN} THEN x.amount ELSE x.received_amount END")
                    }
                    "confirmed_at" if table == "payments" => {
                        format!("CASE WHEN s.n > {OPEN} THEN x.created_at - (s.n - 20) * interval '52 minutes' ELSE x.confirmed_at END")
                    }
                    other => format!("x.{other}"),
                })
                .collect::<Vec<_>>()
                .join(", ");
            sqlx::query(&format!(
                "INSERT INTO {table} ({list}) SELECT {select} FROM bench_seed s JOIN {table} x ON x.order_id = s.template"
            ))
            .execute(&mut conn)
            .await
            .with_context(|| format!("copying {table}"))?;
        }
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(count)
}
