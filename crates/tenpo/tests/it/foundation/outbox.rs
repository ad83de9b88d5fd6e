//! The outbox: events written with the change, delivered at least once, applied exactly once.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use db::Tx;
use events::{Consumer, ConsumerError, Event, EventType, Relay, RelayOptions};
use kernel::TenantId;
use tokio::sync::Notify;

use crate::support::TestApp;

/// Counts the events it sees in the tenant's settings (an effect in the tenant transaction).
struct Counter;

#[async_trait]
impl Consumer for Counter {
    fn name(&self) -> &'static str {
        "test.counter"
    }
    fn wants(&self, event: &Event) -> bool {
        event.is(EventType::LocationCreated)
    }
    async fn handle(&self, tx: &mut Tx, _: &Event) -> Result<(), ConsumerError> {
        sqlx::query("UPDATE tenants SET settings = jsonb_set(settings, '{seen}', to_jsonb(coalesce((settings->>'seen')::int, 0) + 1))")
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// Tells the test it was reached, then never finishes: the relay is killed while here.
struct Stall(Arc<Notify>);

#[async_trait]
impl Consumer for Stall {
    fn name(&self) -> &'static str {
        "test.stall"
    }
    fn wants(&self, event: &Event) -> bool {
        event.is(EventType::LocationCreated)
    }
    async fn handle(&self, _: &mut Tx, _: &Event) -> Result<(), ConsumerError> {
        self.0.notify_one();
        std::future::pending::<()>().await;
        Ok(())
    }
}

struct Noop;

#[async_trait]
impl Consumer for Noop {
    fn name(&self) -> &'static str {
        "test.stall"
    }
    fn wants(&self, event: &Event) -> bool {
        event.is(EventType::LocationCreated)
    }
    async fn handle(&self, _: &mut Tx, _: &Event) -> Result<(), ConsumerError> {
        Ok(())
    }
}

async fn seen(app: &TestApp, tenant: &str) -> i64 {
    app.count(&format!("SELECT coalesce((settings->>'seen')::int, 0)::bigint FROM tenants WHERE id = '{tenant}'")).await
}

#[tokio::test]
async fn every_change_writes_its_event_in_the_same_transaction() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let types: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT event_type FROM outbox_events WHERE tenant_id = '{}' ORDER BY id",
        shop.tenant_id
    ))
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(types, ["tenant.created", "store.created", "staff.created"]);
    // a refused change writes no event
    app.post("/admin/v1/locations", &shop.owner_token, serde_json::json!({ "code": "main", "name": "dup" }))
        .await
        .expect_problem(409, "location_code_taken");
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM outbox_events WHERE tenant_id = '{}'", shop.tenant_id)).await,
        3
    );
}

#[tokio::test]
async fn a_relay_killed_between_delivery_and_marking_has_no_second_effect() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    app.post("/admin/v1/locations", &shop.owner_token, serde_json::json!({ "code": "osaka", "name": "Osaka" }))
        .await
        .expect(201);

    let reached = Arc::new(Notify::new());
    let opts = RelayOptions { lease: Duration::from_secs(1), ..Default::default() };
    let relay = Relay::new(app.db.clone(), opts.clone())
        .with_consumer(Arc::new(Counter))
        .with_consumer(Arc::new(Stall(reached.clone())));
    let running = tokio::spawn(async move { relay.run_once().await });
    tokio::time::timeout(Duration::from_secs(10), reached.notified())
        .await
        .expect("the relay reached the second consumer");
    // the first consumer's effect is committed; now the relay dies before marking the event
    running.abort();
    let _ = running.await;
    assert_eq!(seen(&app, &shop.tenant_id).await, 1);
    let status: String = sqlx::query_scalar("SELECT status FROM outbox_events WHERE event_type = 'location.created'")
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert_eq!(status, "processing", "the event was not marked");

    // a restarted relay takes the event up again once its lease passes
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let relay = Relay::new(app.db.clone(), opts).with_consumer(Arc::new(Counter)).with_consumer(Arc::new(Noop));
    while relay.run_once().await.unwrap() > 0 {}
    assert_eq!(seen(&app, &shop.tenant_id).await, 1, "the effect happened exactly once");
    let (status, attempts): (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM outbox_events WHERE event_type = 'location.created'")
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("published", 2));
    assert_eq!(app.count("SELECT count(*) FROM processed_events").await, 2, "one row per consumer");
}

#[tokio::test]
async fn racing_relays_apply_each_event_once() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let tenant: TenantId = shop.tenant_id.parse().unwrap();
    for i in 0..60 {
        app.post(
            "/admin/v1/locations",
            &shop.owner_token,
            serde_json::json!({ "code": format!("loc{i}"), "name": "L" }),
        )
        .await
        .expect(201);
    }
    let opts = RelayOptions { batch_size: 7, ..Default::default() };
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let relay = Relay::new(app.db.clone(), opts.clone()).with_consumer(Arc::new(Counter));
        tasks.push(tokio::spawn(async move { while relay.run_once().await.unwrap() > 0 {} }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(seen(&app, &tenant.to_string()).await, 60);
    assert_eq!(app.count("SELECT count(*) FROM outbox_events WHERE status <> 'published'").await, 0);
}

/// A consumer that fails: the event is retried later and the failure recorded.
struct Failing;

#[async_trait]
impl Consumer for Failing {
    fn name(&self) -> &'static str {
        "test.failing"
    }
    fn wants(&self, _: &Event) -> bool {
        true
    }
    async fn handle(&self, _: &mut Tx, _: &Event) -> Result<(), ConsumerError> {
        Err("downstream unavailable".into())
    }
}

#[tokio::test]
async fn a_failing_consumer_leaves_the_event_for_a_later_retry() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    app.shop().await;
    let relay = Relay::new(app.db.clone(), RelayOptions::default()).with_consumer(Arc::new(Failing));
    relay.run_once().await.unwrap();
    let rows: Vec<(String, Option<String>, bool)> =
        sqlx::query_as("SELECT status, last_error, available_at > now() FROM outbox_events")
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert!(!rows.is_empty());
    for (status, error, later) in rows {
        assert_eq!(status, "pending");
        assert!(error.unwrap().contains("downstream unavailable"));
        assert!(later, "retried with backoff, not at once");
    }
    assert_eq!(app.count("SELECT count(*) FROM processed_events").await, 0, "a failed effect is not recorded");
    // nothing is due yet
    assert_eq!(relay.run_once().await.unwrap(), 0);
}
