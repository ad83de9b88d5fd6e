//! `tenpo bench events`: how fast events leave Tenpo. `TENPO_BENCH_EVENTS` (default 2,000)
//! products are created through the admin API by the concurrent clients; each commits a
//! `product.created` event. Measured from each event's commit:
//! * baseline: until the relay marked it published, every in-process consumer done (search sync,
//!   and the webhook consumer that enqueues its delivery);
//! * webhooks: until a local receiver (an HTTP server of this process, on a free port) answered
//!   2xx to its signed POST;
//! * NATS: until the JetStream server stored the message (its ack follows), on `TENPO_NATS_URL`
//!   or nats://127.0.0.1:4222, in a stream and subject prefix of the run's own (deleted after).
//!
//! Then whole checkouts with the outbox's NOTIFY trigger on and off, alternated twice: does a
//! NOTIFY per outbox write (one per committing transaction) cost checkout throughput?
//!
//! Local runs only: the receiver is on 127.0.0.1, so the bench's server allows private targets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use kernel::TenantId;
use serde_json::{Value, json};

use super::checkout::{Plan, checkouts};
use super::load::{Phase, Report};
use super::scenarios::{new_shop, post};
use super::{Local, Target};
use crate::config::Config;

/// The local server's settings for this bench: NATS on (TENPO_NATS_URL or the machine's
/// server), into a stream and subjects of the run's own.
pub fn tune(config: &mut Config) {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let n = &mut config.nats;
    n.url = Some(n.url.clone().unwrap_or_else(|| "nats://127.0.0.1:4222".into()));
    n.stream = format!("TENPO_BENCH_{run}");
    n.subject_prefix = format!("tenpobench{run}");
}

/// When the NATS server stored each message of the run's stream, by event id.
async fn nats_times(config: &Config) -> anyhow::Result<HashMap<String, DateTime<Utc>>> {
    let js = nats_context(config).await?;
    let mut stream = js.get_stream(&config.nats.stream).await.context("the bench's stream")?;
    let state = stream.info().await?.state.clone();
    let mut out = HashMap::new();
    for seq in state.first_sequence..=state.last_sequence {
        let m = stream.get_raw_message(seq).await?;
        let Some(id) = m.headers.get(async_nats::header::NATS_MESSAGE_ID) else { continue };
        let nanos = m.time.unix_timestamp_nanos();
        let at = DateTime::<Utc>::from_timestamp((nanos / 1_000_000_000) as i64, (nanos % 1_000_000_000) as u32)
            .unwrap_or_default();
        out.insert(id.as_str().to_string(), at);
    }
    Ok(out)
}

async fn nats_context(config: &Config) -> anyhow::Result<async_nats::jetstream::Context> {
    let url = config.nats.url.clone().context("no NATS URL")?;
    let client = async_nats::connect(url.as_str()).await.with_context(|| {
        format!("bench events publishes to NATS: start nats-server -js or set TENPO_NATS_URL ({url})")
    })?;
    Ok(async_nats::jetstream::new(client))
}

/// What the receiver saw: the first 2xx answer's time per webhook-id, and the tenant.
#[derive(Default)]
struct Seen {
    at: HashMap<String, DateTime<Utc>>,
    tenant: Option<String>,
}

async fn receive(State(seen): State<Arc<Mutex<Seen>>>, headers: HeaderMap, body: Bytes) -> &'static str {
    let now = Utc::now();
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut seen = seen.lock().unwrap();
    if seen.tenant.is_none()
        && let Ok(v) = serde_json::from_slice::<Value>(&body)
    {
        seen.tenant = v["tenant_id"].as_str().map(str::to_string);
    }
    seen.at.entry(id).or_insert(now);
    "ok"
}

fn phase(name: &str, latencies_us: &mut Vec<u32>, elapsed: Duration) -> Phase {
    latencies_us.sort_unstable();
    Phase {
        name: name.into(),
        requests: latencies_us.len() as u64,
        errors: 0,
        elapsed,
        latencies: std::mem::take(latencies_us),
    }
}

fn micros(d: chrono::Duration) -> u32 {
    d.num_microseconds().unwrap_or(0).clamp(0, u32::MAX as i64) as u32
}

pub async fn events(t: &Target) -> anyhow::Result<Report> {
    let Some(local) = &t.local else { bail!("bench events runs against its own server (no --url)") };
    nats_context(&local.config).await?;
    measure(t, local).await
}

/// Deletes the run's stream, once its server stopped publishing.
pub async fn delete_stream(config: &Config) {
    if let Ok(js) = nats_context(config).await {
        let _ = js.delete_stream(&config.nats.stream).await;
    }
}

async fn measure(t: &Target, local: &Local) -> anyhow::Result<Report> {
    let n: usize = std::env::var("TENPO_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let shop = new_shop(t).await?;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let res = t
        .client
        .post(t.url("/admin/v1/webhooks"))
        .bearer_auth(&shop.owner_token)
        .json(&json!({ "url": url, "topics": ["product.created"] }))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("cannot create the webhook endpoint: {}", res.text().await.unwrap_or_default());
    }

    // the events: products created by the concurrent clients, n in all
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..t.concurrency.max(1) {
        let (client, token, next) = (t.client.clone(), shop.owner_token.clone(), next.clone());
        let create = t.url("/admin/v1/products");
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let t0 = Instant::now();
                let res = client
                    .post(&create)
                    .bearer_auth(&token)
                    .json(&json!({ "title": format!("Event tea {i}"), "status": "active", "options": ["Size"],
                                   "variants": [{ "sku": format!("EV-{i}"), "option_values": ["S"],
                                                  "price": { "amount": 800, "currency": "JPY" } }] }))
                    .send()
                    .await?;
                if !res.status().is_success() {
                    bail!("creating a product failed: {}", res.text().await.unwrap_or_default());
                }
                latencies.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
        }));
    }
    let mut api = Vec::new();
    for c in clients {
        api.extend(c.await??);
    }
    let committed = started.elapsed();

    // every event at the receiver, and published by the relay
    loop {
        if seen.lock().unwrap().at.len() >= n {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("only {} of {n} webhooks arrived in 10 minutes", seen.lock().unwrap().at.len());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tenant: TenantId =
        seen.lock().unwrap().tenant.clone().context("no tenant in the deliveries")?.parse().context("tenant id")?;
    let rows: Vec<(uuid::Uuid, DateTime<Utc>, Option<DateTime<Utc>>)> = loop {
        let mut tx = local.db.begin(tenant).await?;
        let rows: Vec<(uuid::Uuid, DateTime<Utc>, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT id, created_at, published_at FROM outbox_events WHERE event_type = 'product.created' ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        if rows.len() >= n && rows.iter().all(|r| r.2.is_some()) {
            break rows;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the relay did not publish the {n} events in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    server.abort();
    // and every event in the stream
    loop {
        let mut tx = local.db.begin(tenant).await?;
        let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM nats_outbox").fetch_one(&mut *tx).await?;
        tx.commit().await?;
        if waiting == 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("{waiting} events still wait for NATS after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stored = nats_times(&local.config).await?;

    let first = rows.iter().map(|r| r.1).min().context("no events")?;
    let notify = notify_cost(t, local).await?;
    let seen = seen.lock().unwrap();
    let (mut relayed, mut hooked, mut leg) = (Vec::new(), Vec::new(), Vec::new());
    let (mut last_published, mut last_received) = (first, first);
    let (mut acked, mut last_acked) = (Vec::new(), first);
    for (id, created, published) in &rows {
        let published = published.unwrap_or(*created);
        relayed.push(micros(published - *created));
        last_published = last_published.max(published);
        if let Some(at) = seen.at.get(&id.to_string()) {
            hooked.push(micros(*at - *created));
            leg.push(micros(*at - published));
            last_received = last_received.max(*at);
        }
        if let Some(at) = stored.get(&id.to_string()) {
            acked.push(micros(*at - *created));
            last_acked = last_acked.max(*at);
        }
    }
    let span = |end: DateTime<Utc>| (end - first).to_std().unwrap_or_default();
    let mut api_sorted = api;
    leg.sort_unstable();
    let pct = |v: &[u32], p: f64| {
        v.get(((v.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or(0) as f64 / 1000.0
    };
    Ok(Report {
        title: format!("events: {n} product.created events, commit -> destination, {} clients", t.concurrency),
        phases: vec![
            phase("in-process consumers (baseline)", &mut relayed, span(last_published)),
            phase("webhook: commit -> receiver 2xx", &mut hooked, span(last_received)),
            phase("NATS: commit -> stored (ack)", &mut acked, span(last_acked)),
            phase("API: create product (commits)", &mut api_sorted, committed),
        ]
        .into_iter()
        .chain(notify.0)
        .collect(),
        notes: vec![
            "req/s = events per second from the first event's commit to the last one's arrival; latency = one event's commit to its arrival".into(),
            "baseline: the relay marked the event published (every in-process consumer done, the webhook delivery enqueued)".into(),
            format!(
                "the webhook leg alone, published -> receiver 2xx: p50 {:.2} ms, p99 {:.2} ms",
                pct(&leg, 0.5),
                pct(&leg, 0.99)
            ),
            notify.1,
        ],
    })
}

/// Whole checkouts (two items, bank transfer) with the outbox's NOTIFY trigger on and off at
/// `--concurrency`, `TENPO_BENCH_NOTIFY_ROUNDS` (3) rounds of two phases in alternating order
/// (on-off, off-on, ...) so that a drift of the machine's load falls on both; the median of each.
/// PostgreSQL takes its notification queue's lock at commit for every transaction that
/// notified, one at a time. Without the trigger the relay finds events by its idle poll.
async fn notify_cost(t: &Target, local: &Local) -> anyhow::Result<(Vec<Phase>, String)> {
    let owner = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(local.maintenance.clone().database(&local.database))
        .await?;
    let shop = new_shop(t).await?;
    let mut variants = Vec::new();
    for i in 0..20 {
        let p = post(
            t,
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": format!("Notify item {i}"), "status": "active",
                    "variants": [{ "sku": format!("NT{i}"), "price": { "amount": 500 + 110 * i, "currency": "JPY" },
                                   "inventory_quantity": 1_000_000 }] }),
        )
        .await?;
        variants.push(p["variants"][0]["id"].as_str().context("variant id")?.to_string());
    }
    let plan = |phase: u64| Arc::new(Plan::new(&shop.store_handle, &variants, phase));
    checkouts(t, "warm-up", plan(100), 8, Duration::from_secs(3)).await?;
    t.analyze().await?;
    let c = t.concurrency.max(1);
    let (mut phases, mut on, mut off) = (Vec::new(), Vec::new(), Vec::new());
    let set = |notify: bool| {
        let owner = owner.clone();
        async move {
            let verb = if notify { "ENABLE" } else { "DISABLE" };
            sqlx::query(&format!("ALTER TABLE outbox_events {verb} TRIGGER notify_relay")).execute(&owner).await
        }
    };
    let rounds: u64 = std::env::var("TENPO_BENCH_NOTIFY_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let measured = async {
        for round in 0..rounds.max(1) {
            let order = if round % 2 == 0 { [true, false] } else { [false, true] };
            for notify in order {
                set(notify).await?;
                let name = format!("checkout, NOTIFY {} #{} (c={c})", if notify { "on" } else { "off" }, round + 1);
                let (whole, _) = checkouts(t, &name, plan(101 + round * 2 + u64::from(notify)), c, t.duration).await?;
                if notify {
                    on.push(whole.per_second())
                } else {
                    off.push(whole.per_second())
                }
                phases.push(whole);
            }
        }
        anyhow::Ok(())
    }
    .await;
    // the trigger is back whatever happened
    set(true).await?;
    owner.close().await;
    measured?;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (all_on, all_off) = (format!("{on:.1?}"), format!("{off:.1?}"));
    let (on, off) = (median(&mut on), median(&mut off));
    let note = format!(
        "NOTIFY per outbox write: median {on:.1} checkouts/s with it {all_on}, {off:.1} without {all_off}: {:+.1}% without",
        (off / on.max(1e-9) - 1.0) * 100.0
    );
    Ok((phases, note))
}
