//! Merchant webhooks end to end: real receivers on free ports verify what Tenpo sends.

pub mod receiver;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::process::{Served, free_port};
use crate::support::{Shop, TestApp};
use receiver::{Receiver, Reply};

/// Tenpo allowing receivers on 127.0.0.1 (plain http), retrying after 100 ms.
async fn app() -> TestApp {
    TestApp::spawn_with(|c, _| fast(&mut c.webhooks)).await
}

fn fast(w: &mut webhooks::WebhookSettings) {
    w.allow_private_targets = true;
    w.retry_schedule = "100ms,100ms,100ms".into();
    w.retry_jitter_percent = 0;
    w.poll_ms = 50;
}

/// A new endpoint: its id and the secret shown at creation.
async fn endpoint(app: &TestApp, shop: &Shop, url: &str, topics: &[&str]) -> (String, String) {
    let e =
        app.post("/admin/v1/webhooks", &shop.owner_token, json!({ "url": url, "topics": topics })).await.expect(201);
    let secret = e["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{e}");
    (e["id"].as_str().unwrap().to_string(), secret)
}

/// A product (its `product.created` and `variant.created` events): its id.
async fn product(app: &TestApp, shop: &Shop, sku: &str) -> String {
    let p = app
        .post(
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": format!("Tea {sku}"), "status": "active", "options": ["Size"],
                    "variants": [{ "sku": sku, "option_values": ["S"], "price": { "amount": 800, "currency": "JPY" } }] }),
        )
        .await
        .expect(201);
    p["id"].as_str().unwrap().to_string()
}

/// Waits until the endpoint's log shows the delivery of this event in a final state.
async fn settled(app: &TestApp, shop: &Shop, endpoint: &str, event_id: &str) -> Value {
    let started = Instant::now();
    loop {
        let list = app.get(&format!("/admin/v1/webhooks/{endpoint}/deliveries"), &shop.owner_token).await.expect(200);
        if let Some(d) = list["items"].as_array().unwrap().iter().find(|d| d["event_id"] == event_id)
            && (d["status"] == "succeeded" || d["status"] == "failed")
        {
            let id = d["id"].as_str().unwrap();
            return app
                .get(&format!("/admin/v1/webhooks/{endpoint}/deliveries/{id}"), &shop.owner_token)
                .await
                .expect(200);
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the delivery of {event_id} did not settle: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn outcomes(delivery: &Value) -> Vec<(String, Value)> {
    delivery["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["outcome"].as_str().unwrap().to_string(), a["status_code"].clone()))
        .collect()
}

#[tokio::test]
async fn every_delivery_verifies_with_the_secret_from_creation_and_only_matching_topics_arrive() {
    let app = app().await;
    let shop = app.shop().await;
    let catalog = Receiver::start(vec![]).await;
    let orders = Receiver::start(vec![]).await;
    let (catalog_hook, secret) = endpoint(&app, &shop, &catalog.url, &["product.*", "variant.created"]).await;
    let (orders_hook, _) = endpoint(&app, &shop, &orders.url, &["order.*"]).await;
    let listed = app.get("/admin/v1/webhooks", &shop.owner_token).await.expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains("whsec_"), "secrets are shown once: {listed}");

    let id = product(&app, &shop, "T-1").await;
    let got = catalog.wait_for(1).await;
    for r in &got {
        assert!(r.signed_by(&secret), "the signature verifies: {r:?}");
        let body = r.json();
        assert_eq!(body["id"], r.id.as_str(), "webhook-id is the event id");
        assert_eq!(body["tenant_id"], shop.tenant_id.as_str());
        assert_eq!(body["store_id"], shop.store_id.as_str());
        assert_eq!(body["version"], 1);
    }
    let created = catalog.of_type("product.created");
    assert_eq!(created.len(), 1);
    let body = created[0].json();
    assert_eq!(body["aggregate"], json!({ "type": "product", "id": id, "sequence": 1 }));
    assert_eq!(body["data"]["id"], id.as_str(), "the payload is the product: {body}");

    let d = settled(&app, &shop, &catalog_hook, created[0].id.as_str()).await;
    assert_eq!(outcomes(&d), [("succeeded".to_string(), json!(200))]);
    assert_eq!(d["attempt_log"][0]["response_body"], "answered 200");
    // a tampered body or another secret does not verify
    let mut forged = created[0].clone();
    forged.body = br#"{"type":"order.placed"}"#.to_vec();
    assert!(!forged.signed_by(&secret));
    assert!(!created[0].signed_by("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="));
    // the event was enqueued for every matching endpoint in one transaction: order.* got none
    let for_orders =
        app.count(&format!("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = '{orders_hook}'")).await;
    assert_eq!(for_orders, 0);
    assert!(orders.received().is_empty(), "order.* got product events: {:?}", orders.received());
}

#[tokio::test]
async fn during_a_rotation_both_secrets_sign_and_after_the_overlap_only_the_new_one() {
    let app = app().await;
    let shop = app.shop().await;
    let r = Receiver::start(vec![]).await;
    let (hook, old) = endpoint(&app, &shop, &r.url, &["product.created"]).await;
    let rotated = app
        .post(&format!("/admin/v1/webhooks/{hook}/rotate-secret"), &shop.owner_token, json!({ "overlap_secs": 5 }))
        .await
        .expect(200);
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let overlap_ends: chrono::DateTime<chrono::Utc> =
        rotated["previous_secret_expires_at"].as_str().unwrap().parse().unwrap();

    product(&app, &shop, "R-1").await;
    let during = r.wait_for_type("product.created", 1).await.remove(0);
    assert_eq!(during.signature.split(' ').count(), 2, "{during:?}");
    assert!(during.signed_by(&old) && during.signed_by(&new), "{during:?}");

    // once the overlap is over, only the new secret signs
    while chrono::Utc::now() <= overlap_ends {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    product(&app, &shop, "R-2").await;
    let after = r.wait_for_type("product.created", 2).await.remove(1);
    assert!(after.signed_by(&new), "{after:?}");
    assert!(!after.signed_by(&old), "the old secret still signs after the overlap: {after:?}");
    assert_eq!(after.signature.split(' ').count(), 1);
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_same_webhook_id_three_times_and_the_log_shows_it() {
    let app = app().await;
    let shop = app.shop().await;
    let r = Receiver::start(vec![Reply::Status(500), Reply::Status(500), Reply::Status(200)]).await;
    let (hook, secret) = endpoint(&app, &shop, &r.url, &["product.created"]).await;
    product(&app, &shop, "F-1").await;
    let got = r.wait_for(3).await;
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|g| g.id == got[0].id), "the same webhook-id on every attempt: {got:?}");
    assert!(got.iter().all(|g| g.signed_by(&secret) && g.body == got[0].body));
    let d = settled(&app, &shop, &hook, &got[0].id).await;
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["attempts"], 3);
    assert_eq!(
        outcomes(&d),
        [("failed".to_string(), json!(500)), ("failed".to_string(), json!(500)), ("succeeded".to_string(), json!(200))]
    );
    // the log filters by outcome and topic
    let path = format!("/admin/v1/webhooks/{hook}/deliveries");
    let ok = app.get(&format!("{path}?outcome=succeeded&topic=product.*"), &shop.owner_token).await.expect(200);
    assert_eq!(ok["items"].as_array().unwrap().len(), 1);
    let none = app.get(&format!("{path}?outcome=failed"), &shop.owner_token).await.expect(200);
    assert!(none["items"].as_array().unwrap().is_empty(), "{none}");
    let none = app.get(&format!("{path}?topic=order.*"), &shop.owner_token).await.expect(200);
    assert!(none["items"].as_array().unwrap().is_empty(), "{none}");
    assert_eq!(r.received().len(), 3, "nothing more after the success");
}

#[tokio::test]
async fn a_worker_killed_after_the_receiver_got_the_request_sends_it_again_and_the_log_ends_with_one_success() {
    // this process serves the API only; `tenpo serve` children run the worker
    let app = TestApp::spawn_with(|c, o| {
        fast(&mut c.webhooks);
        o.worker = false;
    })
    .await;
    let shop = app.shop().await;
    let r = Receiver::start(vec![Reply::Hold]).await;
    let (hook, secret) = endpoint(&app, &shop, &r.url, &["product.created"]).await;
    let env = [
        ("TENPO_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true"),
        ("TENPO_WEBHOOKS_TIMEOUT_SECS", "5"),
        ("TENPO_WEBHOOKS_LEASE_SECS", "6"),
        ("TENPO_WEBHOOKS_POLL_MS", "100"),
    ];
    let first = Served::start(&app, free_port(), &env).await;
    product(&app, &shop, "K-1").await;
    let held = r.wait_for(1).await.remove(0);
    // the receiver has the request and has not answered: the attempt is not recorded yet
    first.kill();
    assert_eq!(app.count("SELECT count(*) FROM webhook_attempts").await, 0);
    // once the killed worker's lease runs out, another worker sends it again
    let _second = Served::start(&app, free_port(), &env).await;
    let again = r.wait_for(2).await.remove(1);
    assert_eq!(again.id, held.id, "the same webhook-id after the crash");
    assert!(again.signed_by(&secret));
    let d = settled(&app, &shop, &hook, &held.id).await;
    assert_eq!(d["status"], "succeeded");
    assert_eq!(outcomes(&d), [("succeeded".to_string(), json!(200))]);
}

#[tokio::test]
async fn private_targets_are_refused_unless_the_operator_allows_them() {
    let strict = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = strict.shop().await;
    for url in [
        "https://127.0.0.1:8443/hook",
        "https://10.0.0.7/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",
    ] {
        let body = strict
            .post("/admin/v1/webhooks", &shop.owner_token, json!({ "url": url, "topics": ["*"] }))
            .await
            .expect_problem(422, "webhook_private_target");
        assert!(body["detail"].as_str().unwrap().contains("TENPO_WEBHOOKS_ALLOW_PRIVATE_TARGETS"), "{body}");
    }
    strict
        .post("/admin/v1/webhooks", &shop.owner_token, json!({ "url": "http://93.184.215.14/hook", "topics": ["*"] }))
        .await
        .expect_problem(422, "webhook_https_required");
    strict
        .post(
            "/admin/v1/webhooks",
            &shop.owner_token,
            json!({ "url": "https://93.184.215.14/hook", "topics": ["orders.*"] }),
        )
        .await
        .expect_problem(422, "validation_failed");
    // staff cannot move an endpoint inside either
    let (id, _) = endpoint(&strict, &shop, "https://93.184.215.14/hook", &["*"]).await;
    strict
        .patch(&format!("/admin/v1/webhooks/{id}"), &shop.owner_token, json!({ "url": "https://127.0.0.1/x" }))
        .await
        .expect_problem(422, "webhook_private_target");
    assert_eq!(strict.count("SELECT count(*) FROM webhook_endpoints WHERE url LIKE '%127.0.0.1%'").await, 0);
    // staff without webhooks_manage cannot see them
    let (_, staff) = strict.member(&shop, "staff").await;
    strict.get("/admin/v1/webhooks", &staff).await.expect_problem(403, "permission_denied");

    // allowed: a receiver on this machine gets its ping
    let open = app().await;
    let shop = open.shop().await;
    let r = Receiver::start(vec![]).await;
    let (id, secret) = endpoint(&open, &shop, &r.url, &["order.*"]).await;
    let ping = open.post(&format!("/admin/v1/webhooks/{id}/ping"), &shop.owner_token, json!({})).await.expect(202);
    let got = r.wait_for(1).await.remove(0);
    assert_eq!(got.id, ping["event_id"].as_str().unwrap());
    assert_eq!(got.json()["type"], "webhook_endpoint.ping");
    assert!(got.signed_by(&secret));
}

#[tokio::test]
async fn resend_and_replay_send_events_again_with_their_ids_and_410_disables_the_endpoint() {
    let app = app().await;
    let shop = app.shop().await;
    let first = Receiver::start(vec![]).await;
    let (hook, _) = endpoint(&app, &shop, &first.url, &["product.created"]).await;
    let since = chrono::Utc::now() - chrono::Duration::seconds(5);
    product(&app, &shop, "P-1").await;
    let got = first.wait_for(1).await.remove(0);
    let d = settled(&app, &shop, &hook, &got.id).await;
    let delivery = d["id"].as_str().unwrap();
    app.post(&format!("/admin/v1/webhooks/{hook}/deliveries/{delivery}/resend"), &shop.owner_token, json!({}))
        .await
        .expect(202);
    let again = first.wait_for(2).await.remove(1);
    assert_eq!(again.id, got.id, "a resend carries the event's id");
    let started = Instant::now();
    while outcomes(
        &app.get(&format!("/admin/v1/webhooks/{hook}/deliveries/{delivery}"), &shop.owner_token).await.expect(200),
    )
    .len()
        < 2
    {
        assert!(started.elapsed() < Duration::from_secs(60), "the resend was not logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // an endpoint added later gets the past events of its topics by replay
    let late = Receiver::start(vec![]).await;
    let (late_hook, late_secret) = endpoint(&app, &shop, &late.url, &["order.*"]).await;
    let replayed = app
        .post(
            &format!("/admin/v1/webhooks/{late_hook}/replay"),
            &shop.owner_token,
            json!({ "topics": ["product.*"], "from": since, "to": chrono::Utc::now() + chrono::Duration::seconds(5) }),
        )
        .await
        .expect(202);
    assert_eq!(replayed["queued"], 1, "product.created of P-1: {replayed}");
    let old = late.wait_for(1).await.remove(0);
    assert_eq!(old.id, got.id);
    assert!(old.signed_by(&late_secret));
    assert_eq!(old.body, got.body, "the same event, byte for byte");

    // a receiver that answers 410 Gone is not sent anything more
    let gone = Receiver::start(vec![Reply::Status(410)]).await;
    let (gone_hook, _) = endpoint(&app, &shop, &gone.url, &["product.created"]).await;
    product(&app, &shop, "P-2").await;
    let last = gone.wait_for(1).await.remove(0);
    let d = settled(&app, &shop, &gone_hook, &last.id).await;
    assert_eq!(d["status"], "failed");
    let e = app.get(&format!("/admin/v1/webhooks/{gone_hook}"), &shop.owner_token).await.expect(200);
    assert_eq!((e["enabled"].clone(), e["disabled_reason"].clone()), (json!(false), json!("gone")), "{e}");
    let disabled = app.events_of(&gone_hook).await;
    assert_eq!(disabled.iter().map(|(t, ..)| t.as_str()).collect::<Vec<_>>(), ["webhook_endpoint.disabled"]);
    product(&app, &shop, "P-3").await;
    first.wait_for(3).await;
    assert_eq!(gone.received().len(), 1, "a disabled endpoint got more");
}

#[tokio::test]
async fn an_endpoint_failing_past_the_limit_is_disabled_and_enabling_it_sends_what_waited() {
    let app = TestApp::spawn_with(|c, _| {
        fast(&mut c.webhooks);
        // every attempt fails, and failing for 0 s is too long: the first failure disables
        c.webhooks.disable_after_secs = 0;
    })
    .await;
    let shop = app.shop().await;
    let r = Receiver::start(vec![Reply::Status(500)]).await;
    let (hook, _) = endpoint(&app, &shop, &r.url, &["product.created"]).await;
    product(&app, &shop, "D-1").await;
    let got = r.wait_for(1).await.remove(0);
    let started = Instant::now();
    loop {
        let e = app.get(&format!("/admin/v1/webhooks/{hook}"), &shop.owner_token).await.expect(200);
        if e["enabled"] == false {
            assert_eq!(e["disabled_reason"], "failing", "{e}");
            assert!(e["failing_since"].is_string(), "{e}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "not disabled: {e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let disabled = app.payload_of::<webhooks::event::WebhookEndpointDisabled>(&hook).await;
    assert_eq!((disabled.reason.as_str(), disabled.url.as_str()), ("failing", r.url.as_str()));
    // the delivery waits; enabling the endpoint again sends it
    app.patch(&format!("/admin/v1/webhooks/{hook}"), &shop.owner_token, json!({ "enabled": true })).await.expect(200);
    let again = r.wait_for(2).await.remove(1);
    assert_eq!(again.id, got.id);
    let d = settled(&app, &shop, &hook, &got.id).await;
    assert_eq!(outcomes(&d), [("failed".to_string(), json!(500)), ("succeeded".to_string(), json!(200))]);
}

#[tokio::test]
async fn retry_after_is_honoured_and_the_metrics_count_the_outcomes() {
    let app = app().await;
    let shop = app.shop().await;
    // 429 with Retry-After: the next attempt waits what the receiver asked, not the schedule's 100 ms
    let busy = Receiver::start(vec![Reply::RetryAfter(429, 2)]).await;
    let (busy_hook, _) = endpoint(&app, &shop, &busy.url, &["product.created"]).await;
    product(&app, &shop, "D-2").await;
    let first = busy.wait_for(1).await.remove(0);
    let d = settled(&app, &shop, &busy_hook, &first.id).await;
    let log = d["attempt_log"].as_array().unwrap();
    assert_eq!(log[0]["status_code"], 429);
    assert_eq!(log[0]["response_headers"]["retry-after"], "2");
    let at = |a: &Value| a["created_at"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(at(&log[1]) - at(&log[0]) >= chrono::Duration::milliseconds(1900), "{d}");
    // the metrics count the outcomes and the latency
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for m in [
        "tenpo_webhook_attempts_total{outcome=\"retry\"}",
        "tenpo_webhook_attempts_total{outcome=\"succeeded\"}",
        "tenpo_webhook_delivery_latency_seconds",
        "tenpo_events_undelivered{destination=\"webhooks\"}",
    ] {
        assert!(metrics.contains(m), "/metrics lacks {m}");
    }
}
