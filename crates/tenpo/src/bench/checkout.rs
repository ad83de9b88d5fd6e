//! `tenpo bench checkout`: whole checkouts over HTTP. One unit is what a shopper does: open a
//! cart, add two items, place the order (bank transfer, Tokyo address, an Idempotency-Key);
//! its latency is the three calls together. Measured at concurrency 8 and at `--concurrency`
//! (32 by default), then with every shopper using one shared promotion code (whose use count
//! is one row). The baseline is reading a cart: one storefront call with one tenant-scoped
//! transaction. A warm-up phase (not reported) and fresh planner statistics come first.

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

    // every placed order has its number, without gaps
    let placed: u64 =
        warm_up.requests + phases.iter().filter(|p| p.name.starts_with("whole")).map(|p| p.requests).sum::<u64>();
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
    for p in phases.iter().filter(|p| p.name.starts_with("whole")) {
        notes.push(format!(
            "{:<44} {:>7.0} checkouts/s, p99 {:>7.1} ms",
            p.name,
            p.per_second(),
            p.percentile_ms(0.99)
        ));
    }
    Ok(Report {
        title: format!("checkout: store {}, {PRODUCTS} products, 2 lines per order", shop.store_handle),
        phases,
        notes,
    })
}
