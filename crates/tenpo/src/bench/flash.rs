//! `tenpo bench flash-sale`: a flash sale over HTTP. One variant with N units, M shoppers each
//! with their own cart adding one unit at concurrency C; a decision is the add-to-cart answer
//! (201 held, 409 refused) or, after a 202, the answer found by polling. The same scenario on a
//! variant that is not hot (one transaction per shopper on the stock row) is the baseline.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use super::Target;
use super::client::Connection;
use super::load::{Phase, Report};
use super::scenarios::{new_shop, post};

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
    Ok(Report {
        title: format!(
            "flash-sale: {} units, {} shoppers per phase, concurrency {}",
            f.units, f.shoppers, f.concurrency
        ),
        phases: vec![baseline.phase, hot.phase],
        notes,
    })
}
