//! The hot-item queue: arrival order, a decider that dies, per-customer limits, idempotency.

use std::sync::Arc;
use std::time::Duration;

use checkout::hot::{ClaimSpec, Decider, HotSettings, Takeover, claim, decide_then_claim};
use futures::future::join_all;
use kernel::{TenantId, VariantId};
use tokio_util::sync::CancellationToken;

use super::{add, decided, inventory_check, new_cart, numbers, stocked_variant};
use crate::support::TestApp;

#[tokio::test]
async fn the_first_shoppers_to_arrive_are_the_ones_served() {
    let app = Arc::new(TestApp::spawn().await);
    let shop = Arc::new(app.shop().await);
    let variant = Arc::new(stocked_variant(&app, &shop, 100, true, None).await);
    let mut carts = Vec::new();
    for _ in 0..300 {
        carts.push(new_cart(&app, &shop).await);
    }
    join_all(carts.into_iter().map(|cart| {
        let (app, shop, variant) = (app.clone(), shop.clone(), variant.clone());
        tokio::spawn(async move {
            let first = add(&app, &shop, &cart, &variant, 1, None).await;
            decided(&app, &shop, &cart, first).await
        })
    }))
    .await;
    // requests are decided in the order of their ids (taken on arrival): the 100 granted are
    // exactly the 100 earliest
    let ids: Vec<(uuid::Uuid, String)> = sqlx::query_as(&format!(
        "SELECT id, status FROM inventory_reservation_requests WHERE variant_id = '{variant}' ORDER BY id"
    ))
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(ids.len(), 300);
    assert!(ids[..100].iter().all(|(_, s)| s == "done"), "an early shopper was refused");
    assert!(ids[100..].iter().all(|(_, s)| s == "failed"), "a late shopper was served");
    // and the stock row moved once per batch, not once per shopper
    let moves: i64 = app
        .count(&format!(
            "SELECT count(*) FROM inventory_movements WHERE variant_id = '{variant}' AND reason = 'reservation'"
        ))
        .await;
    assert!(moves < 100, "{moves} movements for 100 holds: the row was updated per shopper");
}

#[tokio::test]
async fn a_dead_deciders_requests_are_taken_over_at_once_in_arrival_order_and_decided_once() {
    let app = Arc::new(
        TestApp::spawn_with(|c, o| {
            o.worker = false; // no decider yet: requests queue up
            c.http.hot_wait_ms = 100;
            c.http.hot_in_hand = false;
        })
        .await,
    );
    let shop = Arc::new(app.shop().await);
    let variant = stocked_variant(&app, &shop, 30, true, None).await;
    let mut carts = Vec::new();
    for _ in 0..50 {
        carts.push(new_cart(&app, &shop).await);
    }
    let mut firsts = Vec::new();
    for cart in &carts {
        let a = add(&app, &shop, cart, &variant, 1, None).await;
        assert_eq!(a.status.as_u16(), 202, "{}", a.body);
        firsts.push(a);
    }
    // a decider claims the 20 earliest with a long lease, then dies before deciding them
    let tenant: TenantId = shop.tenant_id.parse().unwrap();
    let variant_id: VariantId = variant.parse().unwrap();
    let lease = Duration::from_secs(60);
    let dead = ClaimSpec { limit: 20, lease, takeover: Takeover::Expired };
    let claimed = claim(&app.db, tenant, variant_id, "dead-decider", dead).await.unwrap();
    assert_eq!(claimed.len(), 20);
    assert_eq!(app.count("SELECT count(*) FROM inventory_reservation_requests WHERE status = 'processing'").await, 20);
    // a new decider starts: it holds the variant's lock, so it takes the dead one's requests
    // over at once (not after the 60 s lease) and decides them before the later arrivals
    let shutdown = CancellationToken::new();
    let decider = Decider {
        db: app.db.clone(),
        queue: None,
        settings: HotSettings { lease, poll: Duration::from_millis(100), ..Default::default() },
        worker: "new-decider".into(),
    };
    let started = std::time::Instant::now();
    let task = tokio::spawn(decider.run(shutdown.clone()));
    let mut granted = 0;
    for (cart, first) in carts.iter().zip(firsts) {
        let d = decided(&app, &shop, cart, first).await;
        if d["status_code"] == 201 {
            granted += 1;
        }
    }
    shutdown.cancel();
    task.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "waited {:?} for the lease", started.elapsed());
    assert_eq!(granted, 30);
    let rows: Vec<(uuid::Uuid, String, String, i32)> = sqlx::query_as(&format!(
        "SELECT id, status, claimed_by, attempts FROM inventory_reservation_requests WHERE variant_id = '{variant}' ORDER BY id"
    ))
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert!(rows[..30].iter().all(|r| r.1 == "done"), "an early shopper was refused: {rows:?}");
    assert!(rows[30..].iter().all(|r| r.1 == "failed"), "a late shopper was served: {rows:?}");
    assert!(rows.iter().all(|r| r.2 == "new-decider"));
    assert!(rows[..20].iter().all(|r| r.3 == 2), "the dead decider's requests are claimed twice");
    assert!(rows[20..].iter().all(|r| r.3 == 1));
    assert_eq!(app.count("SELECT count(*) FROM inventory_reservations").await, 30, "each request decided once");
    assert_eq!(numbers(&app, &variant).await, (30, 30));
    assert!(inventory_check(&app, false).0);
}

#[tokio::test]
async fn a_stalled_decider_whose_requests_were_taken_over_decides_nothing() {
    let app = Arc::new(
        TestApp::spawn_with(|c, o| {
            o.worker = false;
            c.http.hot_wait_ms = 100;
            c.http.hot_in_hand = false;
        })
        .await,
    );
    let shop = app.shop().await;
    let variant = stocked_variant(&app, &shop, 5, true, None).await;
    for _ in 0..8 {
        let cart = new_cart(&app, &shop).await;
        assert_eq!(add(&app, &shop, &cart, &variant, 1, None).await.status.as_u16(), 202);
    }
    let tenant: TenantId = shop.tenant_id.parse().unwrap();
    let store: kernel::StoreId = shop.store_id.parse().unwrap();
    let variant_id: VariantId = variant.parse().unwrap();
    let lease = Duration::from_millis(300);
    // the first decider claims, then stalls past its lease; a second takes the requests over
    let spec = ClaimSpec { limit: 500, lease, takeover: Takeover::Expired };
    let stalled = claim(&app.db, tenant, variant_id, "stalled", spec).await.unwrap();
    assert_eq!(stalled.len(), 8);
    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    let taken = claim(&app.db, tenant, variant_id, "second", spec).await.unwrap();
    assert_eq!(taken.len(), 8);
    // the stalled one wakes up and tries to decide: nothing of it may land
    let (late, _) = decide_then_claim(&app.db, tenant, store, variant_id, "stalled", &stalled, None).await.unwrap();
    assert!(late.is_empty(), "a decider decided requests it no longer held: {late:?}");
    assert_eq!(numbers(&app, &variant).await, (5, 0));
    assert_eq!(app.count("SELECT count(*) FROM inventory_reservations").await, 0);
    let (decided, _) = decide_then_claim(&app.db, tenant, store, variant_id, "second", &taken, None).await.unwrap();
    assert_eq!(decided.iter().filter(|r| r.reservation_id.is_some()).count(), 5);
    assert_eq!(numbers(&app, &variant).await, (5, 5));
    assert!(inventory_check(&app, false).0);
}

#[tokio::test]
async fn a_per_customer_limit_holds_on_the_hot_path() {
    let app = TestApp::spawn().await;
    let shop = app.shop().await;
    let variant = stocked_variant(&app, &shop, 100, true, Some(2)).await;
    let cart = new_cart(&app, &shop).await;
    let a = add(&app, &shop, &cart, &variant, 1, None).await;
    assert_eq!(decided(&app, &shop, &cart, a).await["status_code"], 201);
    let b = add(&app, &shop, &cart, &variant, 1, None).await;
    assert_eq!(decided(&app, &shop, &cart, b).await["status_code"], 201);
    let c = add(&app, &shop, &cart, &variant, 1, None).await;
    let c = decided(&app, &shop, &cart, c).await;
    assert_eq!(c["status_code"], 409);
    let code = c["body"]["code"].as_str().or(c["body"]["failure_code"].as_str()).unwrap();
    assert_eq!(code, "limit_exceeded");
    let view = app
        .client
        .get(app.url(&format!("/store/v1/stores/{}/carts/{}", shop.handle, cart.0)))
        .header("x-cart-secret", &cart.1)
        .send()
        .await
        .unwrap();
    let view = TestApp::read(view).await.expect(200);
    assert_eq!(view["items"][0]["quantity"], 2);
    assert_eq!(view["items"][0]["held"], 2);
}

#[tokio::test]
async fn the_same_key_ten_times_at_once_holds_once_on_both_paths() {
    for hot in [false, true] {
        let app = Arc::new(TestApp::spawn().await);
        let shop = Arc::new(app.shop().await);
        let variant = Arc::new(stocked_variant(&app, &shop, 10, hot, None).await);
        let cart = Arc::new(new_cart(&app, &shop).await);
        let answers = join_all((0..10).map(|_| {
            let (app, shop, variant, cart) = (app.clone(), shop.clone(), variant.clone(), cart.clone());
            tokio::spawn(async move {
                let first = add(&app, &shop, &cart, &variant, 2, Some("add-tea-once")).await;
                decided(&app, &shop, &cart, first).await
            })
        }))
        .await;
        let bodies: Vec<serde_json::Value> = answers.into_iter().map(|a| a.unwrap()).collect();
        assert!(bodies.iter().all(|b| b["status_code"] == 201), "hot={hot}: {bodies:?}");
        let ids: std::collections::HashSet<String> =
            bodies.iter().map(|b| b["body"]["request_id"].as_str().unwrap().to_string()).collect();
        assert_eq!(ids.len(), 1, "hot={hot}: every replay answers the same request");
        assert_eq!(numbers(&app, &variant).await, (10, 2), "hot={hot}: held once");
        assert_eq!(app.count("SELECT count(*) FROM inventory_reservations").await, 1);
        // a different request with the same key is refused, not silently replayed
        let other = add(&app, &shop, &cart, &variant, 3, Some("add-tea-once")).await;
        other.expect_problem(422, "idempotency_key_reused");
    }
}
