//! A flash sale through a real `tenpo serve` that is SIGKILLed mid-sale and restarted: the
//! restarted decider takes the dead one's claimed requests over at once and arrival order holds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{inventory_check, new_cart, numbers, stocked_variant};
use crate::support::process::{Served, free_port};
use crate::support::{Shop, TestApp};

const UNITS: i32 = 30;
const SHOPPERS: usize = 120;
/// Longer than the test may take: only a takeover at once can decide the dead decider's claims.
const LEASE_SECS: &str = "120";

/// One shopper: adds one unit under its key until answered, retrying the same key through the
/// crash (refused connections, cut requests), and polls a 202 to its decision. Answers 201 or 409.
async fn shopper(
    client: reqwest::Client,
    base: String,
    handle: String,
    cart: (String, String),
    variant: String,
) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(90);
    let add = format!("{base}/store/v1/stores/{handle}/carts/{}/items", cart.0);
    let key = format!("flash-{}", cart.0);
    while Instant::now() < deadline {
        let sent = client
            .post(&add)
            .header("x-cart-secret", &cart.1)
            .header("idempotency-key", &key)
            .json(&json!({ "variant_id": variant, "quantity": 1 }))
            .send()
            .await;
        let (status, body) = match sent {
            Ok(r) => (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null)),
            Err(_) => (0, Value::Null),
        };
        match status {
            201 => return 201,
            409 => {
                assert_eq!(body["code"], "sold_out", "{body}");
                return 409;
            }
            202 => {
                let poll = format!("{base}{}", body["poll_url"].as_str().unwrap());
                while Instant::now() < deadline {
                    let answer = client.get(&poll).header("x-cart-secret", &cart.1).send().await;
                    if let Ok(r) = answer
                        && r.status() == 200
                        && let Ok(state) = r.json::<Value>().await
                    {
                        match state["status"].as_str() {
                            Some("held") => return 201,
                            Some("refused") => return 409,
                            _ => {}
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            // the server is down or was cut mid-request: the same key again
            0 | 500..=599 => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("adding answered {other}: {body}"),
        }
    }
    panic!("a shopper got no decision in 90 s");
}

/// (processing, done) requests of a variant.
async fn progress(app: &TestApp, variant: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'processing'), count(*) FILTER (WHERE status = 'done')
           FROM inventory_reservation_requests WHERE variant_id = $1::uuid",
    )
    .bind(variant)
    .fetch_one(&app.owner)
    .await
    .unwrap()
}

/// Every shopper answered once, the units went to the earliest arrivals and to nobody else,
/// one request per shopper's key, the stock row agrees.
async fn served_in_arrival_order(app: &TestApp, variant: &str, answers: &[u16], note: &str) {
    assert_eq!(answers.iter().filter(|a| **a == 201).count(), UNITS as usize);
    let rows: Vec<(uuid::Uuid, String)> =
        sqlx::query_as("SELECT id, status FROM inventory_reservation_requests WHERE variant_id = $1::uuid ORDER BY id")
            .bind(variant)
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert_eq!(rows.len(), SHOPPERS, "one request per shopper's key");
    let order: String = rows.iter().map(|(_, s)| if s == "done" { 'G' } else { 'r' }).collect();
    assert_eq!(
        order,
        format!("{}{}", "G".repeat(UNITS as usize), "r".repeat(SHOPPERS - UNITS as usize)),
        "arrival order (G granted, r refused), {note}"
    );
    assert_eq!(numbers(app, variant).await, (UNITS as i64, UNITS as i64));
}

/// One sale: shoppers start at once, the server is killed while its decider holds claimed
/// requests and stock is left, then restarted. Answers the restarted server and how many
/// requests the dead decider left claimed.
async fn sale(app: &Arc<TestApp>, shop: &Shop, server: Served, port: u16, env: &[(&str, &str)]) -> (Served, i64) {
    let variant = stocked_variant(app, shop, UNITS, true, None).await;
    let mut carts = Vec::new();
    for _ in 0..SHOPPERS {
        carts.push(new_cart(app, shop).await);
    }
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let shoppers: Vec<_> = carts
        .into_iter()
        .map(|cart| {
            tokio::spawn(shopper(client.clone(), server.base.clone(), shop.handle.clone(), cart, variant.clone()))
        })
        .collect();
    // kill the moment the decider holds claimed requests, before half the units are gone
    let started = Instant::now();
    loop {
        let (processing, done) = progress(app, &variant).await;
        if processing > 0 && done < UNITS as i64 / 2 {
            break;
        }
        assert!(done < UNITS as i64 / 2, "half the units went before a claim was seen");
        assert!(started.elapsed() < Duration::from_secs(30), "no request was ever claimed");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill();
    let (stranded, _) = progress(app, &variant).await;
    let restarted_at = Instant::now();
    let server = Served::start(app, port, env).await;
    let mut answers = Vec::new();
    for s in shoppers {
        answers.push(s.await.unwrap());
    }
    let took = restarted_at.elapsed();
    assert!(took < Duration::from_secs(60), "the sale took {took:?} after the restart: claims waited for their lease");

    served_in_arrival_order(app, &variant, &answers, &format!("{stranded} claimed at the kill")).await;
    (server, stranded)
}

#[tokio::test]
async fn a_flash_sale_killed_mid_decision_keeps_arrival_order_after_restart() {
    let app = Arc::new(TestApp::spawn_with(|_, o| o.worker = false).await);
    let shop = app.shop().await;
    let port = free_port();
    // small batches: the decider is mid-batch most of the time the sale runs; every request
    // queued for it (in hand, the queue would decide most of them itself)
    let env = [("TENPO_HOT_LEASE_SECS", LEASE_SECS), ("TENPO_HOT_BATCH_SIZE", "4"), ("TENPO_HOT_IN_HAND", "off")];
    let mut server = Served::start(&app, port, &env).await;
    let mut stranded_runs = 0;
    for run in 0..3 {
        let (next, stranded) = sale(&app, &shop, server, port, &env).await;
        eprintln!("run {run}: {stranded} requests claimed by the killed decider");
        stranded_runs += usize::from(stranded > 0);
        server = next;
    }
    drop(server);
    assert!(stranded_runs >= 2, "only {stranded_runs} of 3 kills left claimed requests behind");
    let (clean, out) = inventory_check(&app, false);
    assert!(clean, "{out}");
}

/// The queue decides batches in hand (recorded with their decisions, one transaction); the
/// process dies just before committing its third such batch, and is restarted. The lost batch
/// left nothing behind, its shoppers' retries (same keys) are decided after the restart, and
/// nothing was decided twice.
#[tokio::test]
async fn a_flash_sale_killed_before_an_in_hand_commit_loses_nothing_and_decides_nothing_twice() {
    let app = Arc::new(TestApp::spawn_with(|_, o| o.worker = false).await);
    let shop = app.shop().await;
    let port = free_port();
    let crashing = [("TENPO_HOT_LEASE_SECS", LEASE_SECS), ("TENPO_HOT_CRASH_BEFORE_IN_HAND_COMMIT", "3")];
    let mut server = Served::start(&app, port, &crashing).await;
    let variant = stocked_variant(&app, &shop, UNITS, true, None).await;
    let mut carts = Vec::new();
    for _ in 0..SHOPPERS {
        carts.push(new_cart(&app, &shop).await);
    }
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let shoppers: Vec<_> = carts
        .into_iter()
        .map(|cart| {
            tokio::spawn(shopper(client.clone(), server.base.clone(), shop.handle.clone(), cart, variant.clone()))
        })
        .collect();
    // the process aborts itself at the crash point
    let started = Instant::now();
    let died = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the crash point was never reached");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(!died.success(), "the server exited on its own: {died:?}");
    let before: i64 =
        app.count(&format!("SELECT count(*) FROM inventory_reservation_requests WHERE variant_id = '{variant}'")).await;
    drop(server);
    server = Served::start(&app, port, &[("TENPO_HOT_LEASE_SECS", LEASE_SECS)]).await;
    let mut answers = Vec::new();
    for s in shoppers {
        answers.push(s.await.unwrap());
    }
    drop(server);
    assert!(before < SHOPPERS as i64, "every request was recorded before the crash ({before})");
    served_in_arrival_order(&app, &variant, &answers, &format!("{before} recorded before the crash")).await;
    let in_hand: i64 = app
        .count(&format!(
            "SELECT count(*) FROM inventory_reservation_requests WHERE variant_id = '{variant}' AND claimed_by = 'in-hand'"
        ))
        .await;
    assert!(in_hand > 0, "no batch was decided in hand");
    assert_eq!(app.count("SELECT count(*) FROM inventory_reservations").await, UNITS as i64, "each unit held once");
    let (clean, out) = inventory_check(&app, false);
    assert!(clean, "{out}");
}
