//! `tenpo bench flash-sale`: a flash sale over HTTP. One variant with N units, M shoppers each
//! with their own cart adding one unit at concurrency C; a decision is the add-to-cart answer
//! (201 held, 409 refused) or, after a 202, the answer found by polling. The same scenario on a
//! variant that is not hot (one transaction per shopper on the stock row) is the baseline. The
//! ceiling (local runs) is PostgreSQL's own: reservations inserted straight through the pool,
//! `RAW_BATCH` per transaction on one stock row, as rows per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use super::Target;
use super::client::Connection;
use super::load::{Phase, Report};
use super::scenarios::{new_shop, post};

/// Reservations per transaction, and clients, of the raw-SQL ceiling.
const RAW_BATCH: usize = 100;
const RAW_CLIENTS: usize = 4;

pub struct Flash {
    pub units: i32,
    pub shoppers: usize,
    pub concurrency: usize,
}

struct Outcome {
    phase: Phase,
    granted: usize,
    refused: usize,
    unanswered: usize,
    reserved: i64,
}

async fn carts(t: &Target, handle: &str, n: usize) -> anyhow::Result<Vec<(String, String)>> {
    let addr = t.addr()?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64.min(n.max(1)) {
        let next = next.clone();
        let path = format!("/store/v1/stores/{handle}/carts");
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let mut conn = Connection::open(addr).await.map_err(anyhow::Error::msg)?;
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let (status, body) =
                    conn.send("POST", &path, &[], Some(b"{}".to_vec())).await.map_err(anyhow::Error::msg)?;
                anyhow::ensure!(status == 201, "creating a cart answered {status}");
                let v: Value = serde_json::from_slice(&body)?;
                out.push((
                    v["cart"]["id"].as_str().context("cart id")?.to_string(),
                    v["secret"].as_str().context("secret")?.to_string(),
                ));
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

async fn run_phase(
    t: &Target,
    name: &str,
    handle: &str,
    token: &str,
    variant: &str,
    carts: Vec<(String, String)>,
    concurrency: usize,
) -> anyhow::Result<Outcome> {
    let addr = t.addr()?;
    let carts = Arc::new(carts);
    let next = Arc::new(AtomicUsize::new(0));
    let body = serde_json::to_vec(&json!({ "variant_id": variant, "quantity": 1 }))?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (carts, next, body, handle) = (carts.clone(), next.clone(), body.clone(), handle.to_string());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut granted, mut refused, mut unanswered) = (0usize, 0usize, 0usize);
            let mut conn = match Connection::open(addr).await {
                Ok(c) => c,
                Err(_) => return (latencies, granted, refused, carts.len()),
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((cart, secret)) = carts.get(i) else { break };
                let key = format!("flash-{i}");
                let headers = [("x-cart-secret", secret.as_str()), ("idempotency-key", key.as_str())];
                let t0 = Instant::now();
                let path = format!("/store/v1/stores/{handle}/carts/{cart}/items");
                let mut answer = conn.send("POST", &path, &headers, Some(body.clone())).await;
                // a 202: poll until decided (the time until the decision is its latency)
                let deadline = t0 + Duration::from_secs(60);
                while let Ok((202, b)) = &answer {
                    let poll = serde_json::from_slice::<Value>(b)
                        .ok()
                        .and_then(|v| v["poll_url"].as_str().map(str::to_string));
                    let Some(poll) = poll else { break };
                    if Instant::now() > deadline {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    answer = match conn.send("GET", &poll, &headers[..1], None).await {
                        Ok((200, b)) => {
                            let state = serde_json::from_slice::<Value>(&b)
                                .ok()
                                .and_then(|v| v["status"].as_str().map(str::to_string));
                            match state.as_deref() {
                                Some("held") => Ok((201, b)),
                                Some("refused") => Ok((409, b)),
                                _ => Ok((
                                    202,
                                    serde_json::to_vec(&json!({ "poll_url": poll })).unwrap_or_default().into(),
                                )),
                            }
                        }
                        other => other,
                    };
                }
                match answer {
                    Ok((201, _)) => {
                        granted += 1;
                        latencies.push(t0.elapsed().as_micros() as u32);
                    }
                    Ok((409, _)) => {
                        refused += 1;
                        latencies.push(t0.elapsed().as_micros() as u32);
                    }
                    Ok(_) => unanswered += 1,
                    Err(_) => {
                        unanswered += 1;
                        if let Ok(c) = Connection::open(addr).await {
                            conn = c;
                        }
                    }
                }
            }
            (latencies, granted, refused, unanswered)
        }));
    }
    let (mut latencies, mut granted, mut refused, mut unanswered) = (Vec::new(), 0, 0, 0);
    for task in tasks {
        let (l, g, r, u) = task.await?;
        latencies.extend(l);
        granted += g;
        refused += r;
        unanswered += u;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let levels = t
        .client
        .get(t.url(&format!("/admin/v1/inventory/levels?variant_id={variant}")))
        .bearer_auth(token)
        .send()
        .await?
        .json::<Value>()
        .await?;
    let reserved: i64 =
        levels["items"].as_array().map(|a| a.iter().map(|l| l["reserved"].as_i64().unwrap_or(0)).sum()).unwrap_or(0);
    let requests = latencies.len() as u64;
    Ok(Outcome {
        phase: Phase { name: name.to_string(), requests, errors: unanswered as u64, elapsed, latencies },
        granted,
        refused,
        unanswered,
        reserved,
    })
}

pub async fn flash_sale(t: &Target, f: Flash) -> anyhow::Result<Report> {
    let shop = new_shop(t).await?;
    let handle = shop.store_handle.clone();
    let mut variants = Vec::new();
    // a third variant with stock enough for the raw ceiling's rows
    let raw_variant = post(
        t,
        "/admin/v1/products",
        &shop.owner_token,
        json!({ "title": "Flash sale (raw ceiling)", "status": "active",
                "variants": [{ "sku": "RAW", "price": { "amount": 2980, "currency": "JPY" }, "inventory_quantity": 50_000_000 }] }),
    )
    .await?["variants"][0]["id"]
        .as_str()
        .context("variant id")?
        .to_string();
    for hot in [false, true] {
        let p = post(
            t,
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": if hot { "Flash sale (hot)" } else { "Flash sale (baseline)" }, "status": "active",
                    "variants": [{ "sku": "FLASH", "price": { "amount": 2980, "currency": "JPY" }, "inventory_quantity": f.units, "is_hot": hot }] }),
        )
        .await?;
        variants.push(p["variants"][0]["id"].as_str().context("variant id")?.to_string());
    }
    eprintln!("  creating {} carts for each phase", f.shoppers);
    let base_carts = carts(t, &handle, f.shoppers).await?;
    let base_carts_for_raw = base_carts.clone();
    let hot_carts = carts(t, &handle, f.shoppers).await?;
    t.analyze().await?;
    let baseline = run_phase(
        t,
        "baseline: normal path (1 tx/shopper)",
        &handle,
        &shop.owner_token,
        &variants[0],
        base_carts,
        f.concurrency,
    )
    .await?;
    let hot = run_phase(
        t,
        "hot queue (batched decisions)",
        &handle,
        &shop.owner_token,
        &variants[1],
        hot_carts,
        f.concurrency,
    )
    .await?;
    let raw = match &t.local {
        Some(_) => Some(raw_reservations(t, &handle, &raw_variant, &base_carts_for_raw).await?),
        None => None,
    };
    let mut notes = Vec::new();
    for o in [&baseline, &hot] {
        notes.push(format!(
            "{:<40} granted {:>6} units, refused {:>6}, never answered {:>4}, oversold {:>3}, reserved on the row {:>6}",
            o.phase.name,
            o.granted,
            o.refused,
            o.unanswered,
            (o.granted as i64 - f.units as i64).max(0),
            o.reserved
        ));
    }
    notes.push(format!(
        "decisions/s: hot {:.0} vs baseline {:.0} = {:.1}x; hot p99 decision latency {:.1} ms",
        hot.phase.per_second(),
        baseline.phase.per_second(),
        hot.phase.per_second() / baseline.phase.per_second().max(1e-9),
        hot.phase.percentile_ms(0.99)
    ));
    let mut phases = vec![baseline.phase, hot.phase];
    if let Some(raw) = raw {
        let rows = raw.per_second() * RAW_BATCH as f64;
        notes.push(format!(
            "ceiling: raw SQL, {RAW_BATCH} reservations per transaction on one stock row, {RAW_CLIENTS} clients: {rows:.0} rows/s (p99 {:.1} ms a transaction); hot decisions/s = {:.3}x it",
            raw.percentile_ms(0.99),
            phases[1].per_second() / rows.max(1e-9)
        ));
        phases.push(raw);
    }
    Ok(Report {
        title: format!(
            "flash-sale: {} units, {} shoppers per phase, concurrency {}",
            f.units, f.shoppers, f.concurrency
        ),
        phases,
        notes,
    })
}

/// The ceiling beside the hot queue: reservations written straight through the pool in
/// batches of `RAW_BATCH` per transaction on one stock row (an insert of the batch's holds and
/// one update of the row), no HTTP and no decisions.
async fn raw_reservations(
    t: &Target,
    handle: &str,
    variant: &str,
    carts: &[(String, String)],
) -> anyhow::Result<Phase> {
    let Some(local) = &t.local else { anyhow::bail!("local runs only") };
    let store_ref: kernel::StoreRef = handle.parse().unwrap_or(kernel::StoreRef::Handle(handle.to_string()));
    let (tenant, store, _) = tenancy::stores::resolve(&local.db, &store_ref).await?.context("bench store not found")?;
    let variant: uuid::Uuid = variant.parse()?;
    let cart_ids: Arc<Vec<uuid::Uuid>> = Arc::new(carts.iter().filter_map(|(c, _)| c.parse().ok()).collect());
    let mut tx = local.db.begin(tenant).await?;
    let (stock_id, location): (uuid::Uuid, uuid::Uuid) =
        sqlx::query_as("SELECT id, location_id FROM inventory_stocks WHERE variant_id = $1 LIMIT 1")
            .bind(variant)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    let db = local.db.clone();
    let phase = super::load::measure(
        &format!("raw SQL: {RAW_BATCH} reservations/tx, one row"),
        RAW_CLIENTS,
        t.duration,
        move |n| {
            let (db, carts) = (db.clone(), cart_ids.clone());
            async move {
                let e = |e: sqlx::Error| e.to_string();
                let batch: Vec<uuid::Uuid> =
                    (0..RAW_BATCH).map(|i| carts[(n as usize * RAW_BATCH + i) % carts.len()]).collect();
                let mut tx = db.begin(tenant).await.map_err(e)?;
                sqlx::query(
                    "INSERT INTO inventory_reservations (tenant_id, store_id, cart_id, variant_id, location_id, stock_id,
                        quantity, expires_at)
                     SELECT $1, $2, c, $3, $4, $5, 1, now() + interval '1 hour' FROM unnest($6::uuid[]) AS c",
                )
                .bind(tenant)
                .bind(store)
                .bind(variant)
                .bind(location)
                .bind(stock_id)
                .bind(&batch)
                .execute(&mut *tx)
                .await
                .map_err(e)?;
                sqlx::query("UPDATE inventory_stocks SET reserved = reserved + $2, updated_at = now() WHERE id = $1")
                    .bind(stock_id)
                    .bind(RAW_BATCH as i32)
                    .execute(&mut *tx)
                    .await
                    .map_err(e)?;
                tx.commit().await.map_err(e)
            }
        },
    )
    .await;
    Ok(phase)
}
