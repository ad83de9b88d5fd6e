//! Events to NATS JetStream against a real nats-server: every event lands in the stream once,
//! through a crash between the server's ack and the mark, and through an outage of NATS that
//! delays nothing else.

mod server;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::process::{Served, exit_within, free_port, tenpo};
use crate::support::{Shop, TestApp};
use crate::webhooks::receiver::Receiver;
use server::{Nats, OwnServer, tally};

/// `n` operator changes of the shop's tenant: one `tenant.updated` event each, in its own
/// transaction as the operator API makes them.
async fn rename_tenant(app: &TestApp, shop: &Shop, n: usize) {
    let id: kernel::TenantId = shop.tenant_id.parse().unwrap();
    for i in 0..n {
        let input = tenancy::tenants::UpdateTenant { name: Some(format!("Renamed {i}")), status: None };
        tenancy::tenants::update_tenant(&app.db, id, input).await.unwrap();
    }
}

/// Every event id of the database.
async fn event_ids(app: &TestApp) -> HashSet<String> {
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM outbox_events").fetch_all(&app.owner).await.unwrap();
    ids.into_iter().map(|i| i.to_string()).collect()
}

/// Waits until no event waits for NATS and the stream holds every event of the database.
async fn caught_up(app: &TestApp, nats: &Nats) {
    let started = Instant::now();
    loop {
        let waiting = app.count("SELECT count(*) FROM nats_outbox").await;
        let unrelayed = app.count("SELECT count(*) FROM outbox_events WHERE status <> 'published'").await;
        let events = app.count("SELECT count(*) FROM outbox_events").await as u64;
        if waiting == 0 && unrelayed == 0 && nats.count().await >= events {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "NATS did not catch up: {waiting} events waiting, {unrelayed} not relayed, {} of {events} in the stream",
            nats.count().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The stream holds each event of the database exactly once, on its subject, with its envelope.
async fn exactly_once(app: &TestApp, nats: &Nats) -> Vec<server::Message> {
    let messages = nats.messages().await;
    let seen = tally(&messages);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "messages stored twice: {twice:?}");
    let ids = event_ids(app).await;
    assert_eq!(seen.keys().cloned().collect::<HashSet<_>>(), ids, "the stream holds exactly the events");
    for m in &messages {
        assert_eq!(m.body["id"], m.id.as_str(), "Nats-Msg-Id is the event id: {m:?}");
        let store = m.body["store_id"].as_str().unwrap_or("_");
        let expected = format!(
            "{}.{}.{store}.{}.{}",
            nats.prefix,
            m.body["tenant_id"].as_str().unwrap(),
            m.body["aggregate"]["type"].as_str().unwrap(),
            m.body["type"].as_str().unwrap()
        );
        assert_eq!(m.subject, expected);
    }
    messages
}

/// The value of a counter on `/metrics` (0 when absent).
async fn metric(base: &str, line_start: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn a_publisher_killed_between_ack_and_mark_leaves_exactly_one_message_per_event() {
    // the API in the test; the relay and the publisher in `tenpo` children
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let nats = Nats::shared();
    rename_tenant(&app, &shop, 1000).await;
    let events = app.count("SELECT count(*) FROM outbox_events").await;
    assert!(events > 1000, "1,000 renames and the shop's own events");

    // the first worker exits once it holds 450 acks it has not marked
    let mut first = tenpo(&app);
    first
        .arg("worker")
        .env("TENPO_FAULT_NATS_EXIT_AFTER_ACKS", "450")
        .env("TENPO_NATS_BATCH_SIZE", "100")
        // short leases: what the stopped worker held is taken again soon
        .env("TENPO_NATS_LEASE_SECS", "2")
        .env("TENPO_NATS_ACK_TIMEOUT_SECS", "1")
        .env("TENPO_OUTBOX_LEASE_SECS", "2");
    for (k, v) in nats.env() {
        first.env(k, v);
    }
    let mut child = first.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let status = exit_within(&mut child, Duration::from_secs(120));
    assert_eq!(status.code(), Some(86), "the fault stopped the worker between ack and mark");
    // what the server acknowledged and nobody marked: in the stream and still waiting for NATS
    let in_stream: HashSet<String> = tally(&nats.messages().await).into_keys().collect();
    let waiting: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT event_id FROM nats_outbox").fetch_all(&app.owner).await.unwrap();
    let acked_unmarked = waiting.iter().filter(|id| in_stream.contains(&id.to_string())).count();
    assert!(
        acked_unmarked > 0,
        "some events were acknowledged and not marked when the worker stopped: {} in the stream, {} waiting, e.g. {:?}",
        in_stream.len(),
        waiting.len(),
        in_stream.iter().next()
    );
    assert!((in_stream.len() as i64) < events, "the worker stopped before the end");

    // restarted (as `tenpo serve`, its /metrics to read): it publishes them again after their
    // lease, the server drops the copies, and the stream holds every event once
    let env: Vec<(&str, String)> = nats
        .env()
        .into_iter()
        .chain([("TENPO_NATS_LEASE_SECS", "2".into()), ("TENPO_NATS_ACK_TIMEOUT_SECS", "1".into())])
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let served = Served::start(&app, free_port(), &env).await;
    caught_up(&app, &nats).await;
    let messages = exactly_once(&app, &nats).await;
    assert_eq!(messages.len() as i64, events);
    let renames = messages.iter().filter(|m| m.body["type"] == "tenant.updated").count();
    assert_eq!(renames, 1000, "exactly 1,000 tenant.updated messages");
    let duplicates = metric(&served.base, "tenpo_nats_publishes_total{outcome=\"duplicate\"}").await;
    assert!(duplicates >= acked_unmarked as f64, "the copies the server dropped are counted: {duplicates}");
    // the stream as configured: file storage, a duplicate window of at least 10 minutes
    let config = nats.config().await;
    assert_eq!(config.storage, async_nats::jetstream::stream::StorageType::File);
    assert!(config.duplicate_window >= Duration::from_secs(600), "{:?}", config.duplicate_window);
    assert_eq!(config.subjects, [format!("{}.>", nats.prefix)]);
    served.kill();
    nats.delete().await;
}

#[tokio::test]
async fn a_nats_outage_delays_only_nats_and_every_event_reaches_the_stream_when_it_returns() {
    let mut server = OwnServer::start().await;
    let nats = server.nats();
    let app = TestApp::spawn_with(|c, _| {
        c.webhooks.allow_private_targets = true;
        c.webhooks.poll_ms = 50;
        nats.configure(&mut c.nats);
    })
    .await;
    let shop = app.shop().await;
    let receiver = Receiver::start(vec![]).await;
    app.post("/admin/v1/webhooks", &shop.owner_token, json!({ "url": receiver.url, "topics": ["product.created"] }))
        .await
        .expect(201);
    let product = |sku: String| {
        let app = &app;
        let token = shop.owner_token.clone();
        async move {
            app.post(
                "/admin/v1/products",
                &token,
                json!({ "title": format!("Tea {sku}"), "status": "active", "options": ["Size"],
                        "variants": [{ "sku": sku, "option_values": ["S"], "price": { "amount": 800, "currency": "JPY" } }] }),
            )
            .await
            .expect(201)
        }
    };
    product("N-0".into()).await;
    receiver.wait_for_type("product.created", 1).await;
    caught_up(&app, &nats).await;
    let before = nats.count().await;

    // NATS goes away: shoppers and staff go on, the relay and webhooks too
    server.stop();
    for i in 1..=5 {
        product(format!("N-{i}")).await;
    }
    receiver.wait_for_type("product.created", 6).await;
    let started = Instant::now();
    while app.count("SELECT count(*) FROM outbox_events WHERE status <> 'published'").await > 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the relay waited for NATS");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waiting = app.count("SELECT count(*) FROM nats_outbox").await;
    assert!(waiting >= 5, "the events of five products wait for NATS: {waiting}");

    // NATS returns: the publisher reconnects and catches up, each event once
    server.restart().await;
    caught_up(&app, &nats).await;
    let messages = exactly_once(&app, &nats).await;
    assert!(messages.len() as u64 >= before + 5, "the outage's events reached the stream");
    assert_eq!(messages.iter().filter(|m| m.body["type"] == "product.created").count(), 6);

    // on /metrics: NATS publishes by outcome and their latency, webhook deliveries by outcome,
    // and what waits (and since when) per destination and in the outbox
    let published = metric(&app.base, "tenpo_nats_publishes_total{outcome=\"published\"}").await;
    assert!(published >= messages.len() as f64, "{published} publishes counted for {} messages", messages.len());
    assert!(metric(&app.base, "tenpo_webhook_attempts_total{outcome=\"succeeded\"}").await >= 6.0);
    let text = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    for name in [
        "tenpo_nats_delivery_latency_seconds",
        "tenpo_webhook_delivery_latency_seconds",
        "tenpo_events_undelivered{destination=\"nats\"}",
        "tenpo_events_undelivered{destination=\"webhooks\"}",
        "tenpo_events_undelivered{destination=\"outbox\"}",
        "tenpo_events_oldest_undelivered_seconds{destination=\"nats\"}",
        "tenpo_events_oldest_undelivered_seconds{destination=\"webhooks\"}",
    ] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} is on /metrics:\n{text}");
    }
}
