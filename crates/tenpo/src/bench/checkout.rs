//! `tenpo bench checkout`: whole checkouts over HTTP. One unit is what a shopper does: open a
//! cart, add two items, place the order (bank transfer, Tokyo address, an Idempotency-Key);
//! its latency is the three calls together. Measured at concurrency 8 and at `--concurrency`
//! (32 by default), then with every shopper using one shared promotion code (whose use count
//! is one row). The baseline is reading a cart: one storefront call with one tenant-scoped
//! transaction. The ceiling (local runs) is a minimal checkout's SQL sent straight through the
//! pool at the same concurrency, with no HTTP and no domain code (`raw SQL`): the whole
//! checkout's rate is printed as a ratio to it. A warm-up phase (not reported) and fresh
//! planner statistics come first.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use super::Target;
use super::client::Connection;
use super::load::{Failure, Phase, Report, Unit, measure_on_connections};
use super::scenarios::{new_shop, post};

const PRODUCTS: usize = 20;

impl Plan {
    /// Checkouts without a code in a store of these variants (`phase` tells its shoppers apart).
    pub(super) fn new(handle: &str, variants: &[String], phase: u64) -> Plan {
        Plan {
            handle: handle.to_string(),
            variants: variants.to_vec(),
            code: None,
            phase,
            place_order: Mutex::new(Vec::new()),
        }
    }
}

/// What a unit needs, shared by every client.
pub(super) struct Plan {
    handle: String,
    variants: Vec<String>,
    code: Option<String>,
    /// Tells this phase's shoppers and keys from other phases'.
    phase: u64,
    /// The place-order call's own latencies (µs), beside the whole unit's.
    place_order: Mutex<Vec<u32>>,
}

/// A new shopper each time: their own email and phone (one identity each).
fn body(shopper: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "email": format!("shopper{shopper}@bench.test"),
        "payment_method": "bank_transfer",
        "shipping_address": { "name": "山田 花子", "name_kana": "ヤマダ ハナコ", "postal_code": "150-0001",
                              "prefecture": "東京都", "city": "渋谷区神宮前", "line1": "1-2-3",
                              "phone": format!("090-{:04}-{:04}", shopper / 10_000 % 10_000, shopper % 10_000) }
    }))
    .unwrap_or_default()
}

async fn expect(
    conn: &mut Connection,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    json: Option<Vec<u8>>,
    want: u16,
) -> Result<Value, Failure> {
    match conn.send(method, path, headers, json).await {
        Ok((status, body)) if status == want => Ok(serde_json::from_slice(&body).unwrap_or(Value::Null)),
        Ok((status, body)) => {
            Err(Failure::Answer(format!("{method} {path}: {status} {}", String::from_utf8_lossy(&body))))
        }
        Err(e) => Err(Failure::Connection(e)),
    }
}

async fn one_checkout(conn: &mut Connection, plan: &Plan, n: u64) -> Result<(), Failure> {
    let store = format!("/store/v1/stores/{}", plan.handle);
    let cart = expect(conn, "POST", &format!("{store}/carts"), &[], Some(b"{}".to_vec()), 201).await?;
    let (Some(id), Some(secret)) = (cart["cart"]["id"].as_str(), cart["secret"].as_str()) else {
        return Err(Failure::Answer(format!("no cart in {cart}")));
    };
    let headers = [("x-cart-secret", secret)];
    for k in [n as usize, n as usize + 7] {
        let line = json!({ "variant_id": plan.variants[k % plan.variants.len()], "quantity": 1 });
        expect(conn, "POST", &format!("{store}/carts/{id}/items"), &headers, serde_json::to_vec(&line).ok(), 201)
            .await?;
    }
    if let Some(code) = &plan.code {
        let apply = serde_json::to_vec(&json!({ "code": code })).ok();
        expect(conn, "PUT", &format!("{store}/carts/{id}/promotion"), &headers, apply, 200).await?;
    }
    let shopper = plan.phase * 10_000_000 + n;
    let key = format!("bench-{shopper}");
    let headers = [("x-cart-secret", secret), ("idempotency-key", key.as_str())];
    let t = Instant::now();
    expect(conn, "POST", &format!("{store}/carts/{id}/checkout"), &headers, Some(body(shopper)), 201).await?;
    if let Ok(mut l) = plan.place_order.lock() {
        l.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
    }
    Ok(())
}

pub(super) async fn checkouts(
    t: &Target,
    name: &str,
    plan: Arc<Plan>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<(Phase, Phase)> {
    let p = plan.clone();
    let whole = measure_on_connections(name, t.addr()?, concurrency, duration, move |mut conn, n| -> Unit {
        let plan = p.clone();
        Box::pin(async move {
            let answer = one_checkout(&mut conn, &plan, n).await;
            (conn, answer)
        })
    })
    .await;
    let mut own: Vec<u32> = std::mem::take(&mut *plan.place_order.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    own.sort_unstable();
    let alone = Phase {
        name: format!("  of which POST .../checkout (c={concurrency})"),
        requests: own.len() as u64,
        errors: 0,
        elapsed: whole.elapsed,
        latencies: own,
    };
    Ok((whole, alone))
}

pub async fn checkout(t: &Target) -> anyhow::Result<Report> {
    let shop = new_shop(t).await?;
    let yen = |amount: i64| json!({ "amount": amount, "currency": "JPY" });
    let settings = json!({ "shipping_flat_fee": yen(800), "free_shipping_threshold": yen(10_000),
                           "prefecture_fees": [{ "prefecture": "沖縄県", "fee": yen(1500) }] });
    let res = t
        .client
        .patch(t.url("/admin/v1/store/checkout-settings"))
        .bearer_auth(&shop.owner_token)
        .json(&settings)
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "checkout settings: {}", res.status());
    let mut variants = Vec::new();
    for i in 0..PRODUCTS {
        let tax = if i % 2 == 0 { "reduced" } else { "standard" };
        let p = post(
            t,
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": format!("Bench item {i}"), "status": "active",
                    "variants": [{ "sku": format!("B{i}"), "price": yen(500 + 110 * i as i64), "tax_class": tax,
                                   "inventory_quantity": 1_000_000 }] }),
        )
        .await?;
        variants.push(p["variants"][0]["id"].as_str().context("variant id")?.to_string());
    }
    post(
        t,
        "/admin/v1/promotions",
        &shop.owner_token,
        json!({ "code": "BENCH5", "discount_type": "percent", "percent_off_bps": 500 }),
    )
    .await?;
    let plan = |phase: u64, code: Option<&str>| {
        Arc::new(Plan {
            handle: shop.store_handle.clone(),
            variants: variants.clone(),
            code: code.map(str::to_string),
            phase,
            place_order: Mutex::new(Vec::new()),
        })
    };

    // a warm-up, so the tables hold what a shop's do, then fresh statistics
    let (warm_up, _) = checkouts(t, "warm-up", plan(0, None), 8, Duration::from_secs(3)).await?;
    t.analyze().await?;

    // the baseline: a cart read (one tenant-scoped transaction)
    let cart = post(t, &format!("/store/v1/stores/{}/carts", shop.store_handle), "", json!({})).await?;
    let cart_path =
        format!("/store/v1/stores/{}/carts/{}", shop.store_handle, cart["cart"]["id"].as_str().context("cart id")?);
    let secret: Arc<str> = Arc::from(cart["secret"].as_str().context("secret")?);
    let high = t.concurrency.max(1);
    let base = measure_on_connections(
        &format!("baseline: GET cart (c={high})"),
        t.addr()?,
        high,
        t.duration,
        move |mut conn, _| -> Unit {
            let (path, secret) = (cart_path.clone(), secret.clone());
            Box::pin(async move {
                let answer =
                    expect(&mut conn, "GET", &path, &[("x-cart-secret", &secret)], None, 200).await.map(|_| ());
                (conn, answer)
            })
        },
    )
    .await;

    let mut phases = vec![base];
    for (phase, c) in [(1, 8), (2, high)] {
        let (whole, alone) = checkouts(t, &format!("whole checkout (c={c})"), plan(phase, None), c, t.duration).await?;
        phases.extend([whole, alone]);
    }
    let (whole, alone) =
        checkouts(t, &format!("whole checkout, one shared code (c={high})"), plan(3, Some("BENCH5")), high, t.duration)
            .await?;
    phases.extend([whole, alone]);

    // the ceiling: the same order's SQL, straight through the pool
    if let Some(local) = &t.local {
        let template = Arc::new(raw_template(&local.db, &shop.store_handle).await?);
        let db = local.db.clone();
        let raw = super::load::measure(&format!("raw SQL checkout (c={high})"), high, t.duration, move |n| {
            let (db, template) = (db.clone(), template.clone());
            async move { raw_checkout(&db, &template, n).await }
        })
        .await;
        phases.push(raw);
    }

    // every placed order has its number, without gaps
    let placed: u64 = warm_up.requests
        + phases
            .iter()
            .filter(|p| p.name.starts_with("whole") || p.name.starts_with("raw SQL"))
            .map(|p| p.requests)
            .sum::<u64>();
    let latest = t
        .client
        .get(t.url("/admin/v1/orders?limit=100"))
        .bearer_auth(&shop.owner_token)
        .send()
        .await?
        .json::<Value>()
        .await?;
    // listed newest first by placing time, which is each transaction's start: the highest number
    // is among the last few placed (no more than the concurrency were in flight at once)
    let last_number = latest["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|o| o["number"].as_u64()).max().unwrap_or(0))
        .unwrap_or(0);
    let mut notes = vec![format!(
        "orders placed {placed} (with the warm-up's); last order number {last_number} (first is 1001: {})",
        if last_number == 1000 + placed { "no gaps" } else { "MISMATCH" }
    )];
    let ceiling = phases.iter().find(|p| p.name.starts_with("raw SQL")).map(Phase::per_second);
    for p in phases.iter().filter(|p| p.name.starts_with("whole") || p.name.starts_with("raw SQL")) {
        notes.push(format!(
            "{:<44} {:>7.0} checkouts/s, p99 {:>7.1} ms{}",
            p.name,
            p.per_second(),
            p.percentile_ms(0.99),
            match ceiling {
                Some(c) if !p.name.starts_with("raw SQL") =>
                    format!(" = {:.2}x the raw-SQL checkout", p.per_second() / c.max(1e-9)),
                _ => String::new(),
            }
        ));
    }
    Ok(Report {
        title: format!("checkout: store {}, {PRODUCTS} products, 2 lines per order", shop.store_handle),
        phases,
        notes,
    })
}

/// What the raw-SQL checkout writes, read once from an order the warm-up placed.
struct RawTemplate {
    tenant: kernel::TenantId,
    store: kernel::StoreId,
    customer: Option<uuid::Uuid>,
    vendor: uuid::Uuid,
    /// (variant, location, product title, sku, price) of the store's stocked variants.
    variants: Vec<(uuid::Uuid, uuid::Uuid, String, String, i64)>,
    event_type: String,
    schema_version: i32,
    payload: Value,
}

async fn raw_template(db: &db::Db, handle: &str) -> anyhow::Result<RawTemplate> {
    let store_ref: kernel::StoreRef = handle.parse().unwrap_or(kernel::StoreRef::Handle(handle.to_string()));
    let (tenant, store, _) = tenancy::stores::resolve(db, &store_ref).await?.context("bench store not found")?;
    let mut tx = db.begin(tenant).await?;
    let (customer, vendor): (Option<uuid::Uuid>, uuid::Uuid) = sqlx::query_as(
        "SELECT o.customer_id, i.vendor_id FROM orders o JOIN order_items i ON i.order_id = o.id
          WHERE o.store_id = $1 ORDER BY o.placed_at DESC LIMIT 1",
    )
    .bind(store)
    .fetch_one(&mut *tx)
    .await?;
    let variants: Vec<(uuid::Uuid, uuid::Uuid, String, String, i64)> = sqlx::query_as(
        "SELECT v.id, s.location_id, p.title, v.sku, v.price_amount
           FROM variants v JOIN products p ON p.id = v.product_id JOIN inventory_stocks s ON s.variant_id = v.id
          WHERE v.store_id = $1 ORDER BY v.id",
    )
    .bind(store)
    .fetch_all(&mut *tx)
    .await?;
    let (event_type, schema_version, payload): (String, i32, Value) = sqlx::query_as(
        "SELECT event_type, schema_version, payload_json FROM outbox_events
          WHERE store_id = $1 AND event_type = 'order.placed' ORDER BY created_at DESC LIMIT 1",
    )
    .bind(store)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    anyhow::ensure!(variants.len() >= 2, "the raw-SQL checkout needs two stocked variants");
    Ok(RawTemplate { tenant, store, customer, vendor, variants, event_type, schema_version, payload })
}

/// A minimal checkout's SQL straight through the pool, one round trip per statement, no HTTP
/// and no domain code: the order, 2 lines, an address, the payment, a shipment, 2 stock rows
/// sold, the store's order counter and the outbox row, in one transaction.
async fn raw_checkout(db: &db::Db, t: &RawTemplate, n: u64) -> Result<(), String> {
    let e = |e: sqlx::Error| e.to_string();
    let order = uuid::Uuid::now_v7();
    let mut lines = [&t.variants[n as usize % t.variants.len()], &t.variants[(n as usize + 7) % t.variants.len()]];
    lines.sort_by_key(|l| l.0);
    let subtotal: i64 = lines.iter().map(|l| l.4).sum();
    let mut tx = db.begin(t.tenant).await.map_err(e)?;
    sqlx::query(
        "INSERT INTO orders (id, tenant_id, store_id, order_number, customer_id, email, status, currency, subtotal_amount,
            total_amount, payment_method, token_hash, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending_payment', 'JPY', $7, $7, 'bank_transfer', $8, $9)",
    )
    .bind(order)
    .bind(t.tenant)
    .bind(t.store)
    .bind(-(rand::random::<i64>() & i64::MAX).max(1))
    .bind(t.customer)
    .bind(format!("raw{n}@bench.test"))
    .bind(subtotal)
    .bind(order.as_bytes().to_vec())
    .bind(format!("raw-{order}"))
    .execute(&mut *tx)
    .await
    .map_err(e)?;
    for l in lines {
        sqlx::query(
            "INSERT INTO order_items (tenant_id, order_id, vendor_id, variant_id, product_title, sku, fulfillment_type,
                tax_class, price_amount, price_currency, quantity, location_id)
             VALUES ($1, $2, $3, $4, $5, $6, 'physical', 'standard', $7, 'JPY', 1, $8)",
        )
        .bind(t.tenant)
        .bind(order)
        .bind(t.vendor)
        .bind(l.0)
        .bind(&l.2)
        .bind(&l.3)
        .bind(l.4)
        .bind(l.1)
        .execute(&mut *tx)
        .await
        .map_err(e)?;
    }
    sqlx::query(
        "INSERT INTO order_addresses (tenant_id, order_id, type, name, name_kana, postal_code, prefecture, prefecture_code,
            city, line1, phone) VALUES ($1, $2, 'shipping', '山田 花子', 'ヤマダ ハナコ', '150-0001', '東京都', 13, '渋谷区神宮前', '1-2-3', '090-1234-5678')",
    )
    .bind(t.tenant)
    .bind(order)
    .execute(&mut *tx)
    .await
    .map_err(e)?;
    sqlx::query(
        "INSERT INTO payments (tenant_id, order_id, method, amount, currency, due_at, status)
         VALUES ($1, $2, 'bank_transfer', $3, 'JPY', now() + interval '7 days', 'pending')",
    )
    .bind(t.tenant)
    .bind(order)
    .bind(subtotal)
    .execute(&mut *tx)
    .await
    .map_err(e)?;
    sqlx::query("INSERT INTO shipments (tenant_id, order_id, vendor_id) VALUES ($1, $2, $3)")
        .bind(t.tenant)
        .bind(order)
        .bind(t.vendor)
        .execute(&mut *tx)
        .await
        .map_err(e)?;
    for l in lines {
        sqlx::query(
            "UPDATE inventory_stocks SET stock = stock - 1, updated_at = now() WHERE variant_id = $1 AND location_id = $2",
        )
        .bind(l.0)
        .bind(l.1)
        .execute(&mut *tx)
        .await
        .map_err(e)?;
    }
    let number: i64 = sqlx::query_scalar(
        "WITH n AS (UPDATE store_order_counters SET last_number = last_number + 1 WHERE store_id = $1 RETURNING last_number)
         UPDATE orders SET order_number = n.last_number FROM n WHERE orders.id = $2 RETURNING orders.order_number",
    )
    .bind(t.store)
    .bind(order)
    .fetch_one(&mut *tx)
    .await
    .map_err(e)?;
    let mut payload = t.payload.clone();
    payload["order_id"] = json!(order);
    payload["number"] = json!(number);
    sqlx::query(
        "INSERT INTO outbox_events (tenant_id, store_id, aggregate_type, aggregate_id, event_type, payload_json, sequence,
            schema_version) VALUES ($1, $2, 'order', $3, $4, $5, 1, $6)",
    )
    .bind(t.tenant)
    .bind(t.store)
    .bind(order.to_string())
    .bind(&t.event_type)
    .bind(&payload)
    .bind(t.schema_version)
    .execute(&mut *tx)
    .await
    .map_err(e)?;
    tx.commit().await.map_err(e)
}
