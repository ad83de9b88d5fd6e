//! `tenpo check`: clean on the data a shop's life leaves behind, and each invariant caught when
//! something writes behind the domains' back.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::checkout::{address, cart_with, checkout, yen};
use crate::digital::{bought_guide, download_url};
use crate::support::TestApp;
use crate::support::process::tenpo;

/// Runs `tenpo check --json`: (exit success, the names of the invariants violated, report).
fn check(app: &TestApp) -> (bool, BTreeSet<String>, Value) {
    let out = tenpo(app).args(["check", "--json"]).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("not JSON: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    let violated = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["violations"].as_array().unwrap().is_empty())
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    (out.status.success(), violated, report)
}

async fn sql(app: &TestApp, statement: &str) {
    let done = sqlx::query(statement).execute(&app.owner).await.unwrap();
    assert!(done.rows_affected() > 0, "corrupted nothing: {statement}");
}

#[tokio::test]
async fn check_is_clean_after_a_shops_life_and_catches_each_broken_invariant() {
    let mut app = TestApp::spawn().await;
    // a paid digital order, downloaded once
    let (t, digital, delivery) = bought_guide(&app, Some(5)).await;
    download_url(&app, &t.shop, &digital, &delivery).await;
    let shop = &t.shop;
    // a bank transfer paid, shipped and delivered; a COD order canceled; a COD order open
    let mut orders = Vec::new();
    for method in ["bank_transfer", "cod", "cod"] {
        let cart = cart_with(&app, shop, &[(&t.tea, 2), (&t.cup, 1)]).await;
        let body =
            json!({ "email": "hanako@example.jp", "payment_method": method, "shipping_address": address("京都") });
        orders.push(checkout(&app, shop, &cart, body, None).await.expect(201)["order"].clone());
    }
    let (paid, canceled) = (orders[0]["id"].as_str().unwrap(), orders[1]["id"].as_str().unwrap());
    let base = format!("/admin/v1/orders/{paid}");
    app.post(&format!("{base}/payments/confirm"), &shop.owner_token, json!({ "received": orders[0]["total"] }))
        .await
        .expect(200);
    let shipment = orders[0]["shipments"][0]["id"].as_str().unwrap();
    app.post(
        &format!("{base}/shipments/{shipment}/ship"),
        &shop.owner_token,
        json!({ "carrier": "ヤマト運輸", "tracking_no": "1234-5678-9012" }),
    )
    .await
    .expect(200);
    let done =
        app.post(&format!("{base}/shipments/{shipment}/deliver"), &shop.owner_token, json!({})).await.expect(200);
    assert_eq!(done["status"], "completed");
    app.post(&format!("/admin/v1/orders/{canceled}/cancel"), &shop.owner_token, json!({ "reason": "asked" }))
        .await
        .expect(200);
    assert_eq!(orders[0]["total"], yen(2 * 1080 + 3300 + 800));

    // the relay has handled the digital order's payment (its delivery exists); let it publish,
    // then stop it, so nothing but this test writes while the invariants are broken
    let published = format!(
        "SELECT count(*) FROM outbox_events WHERE aggregate_id = '{}' AND event_type = 'payment.confirmed' AND status = 'published'",
        digital.id
    );
    for _ in 0..200 {
        if app.count(&published).await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.count(&published).await, 1);
    app.stop().await;

    let (ok, violated, report) = check(&app);
    assert!(ok && violated.is_empty(), "{report:#}");
    let names: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "stock",
            "stock_ledger",
            "reservations",
            "orders",
            "order_status",
            "order_numbers",
            "order_events",
            "outbox",
            "deliveries",
            "statements"
        ]
    );
    // (a single-brand shop has no statements: mall/closing.rs checks those on a mall's)
    let mut looked_at = report["checks"].as_array().unwrap().iter().filter(|c| c["name"] != "statements");
    assert!(looked_at.all(|c| c["checked"].as_i64().unwrap() > 0), "{report:#}");
    // the text report names each invariant and ends with the count
    let text = tenpo(&app).arg("check").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("order_numbers") && text.ends_with("10 invariants, 0 violations\n"), "{text}");

    let tea = &t.tea;
    // (what writes behind the domains' back, how to put it back, the invariants it breaks)
    let cases: Vec<(String, String, &[&str])> = vec![
        (
            format!("UPDATE inventory_stocks SET reserved = reserved + 1 WHERE variant_id = '{tea}'"),
            format!("UPDATE inventory_stocks SET reserved = reserved - 1 WHERE variant_id = '{tea}'"),
            &["stock", "stock_ledger"],
        ),
        (
            format!("UPDATE inventory_stocks SET stock = stock - 3 WHERE variant_id = '{tea}'"),
            format!("UPDATE inventory_stocks SET stock = stock + 3 WHERE variant_id = '{tea}'"),
            &["stock_ledger"],
        ),
        (
            format!("UPDATE inventory_reservations SET quantity = quantity + 1 WHERE order_id = '{paid}' AND variant_id = '{tea}'"),
            format!("UPDATE inventory_reservations SET quantity = quantity - 1 WHERE order_id = '{paid}' AND variant_id = '{tea}'"),
            &["reservations"],
        ),
        (
            format!("UPDATE payments SET amount = amount + 1 WHERE order_id = '{paid}'"),
            format!("UPDATE payments SET amount = amount - 1 WHERE order_id = '{paid}'"),
            &["orders"],
        ),
        (
            format!("UPDATE order_items SET discount_amount = 5 WHERE order_id = '{paid}' AND variant_id = '{tea}'"),
            format!("UPDATE order_items SET discount_amount = 0 WHERE order_id = '{paid}' AND variant_id = '{tea}'"),
            &["orders"],
        ),
        (
            format!("UPDATE shipments SET status = 'pending' WHERE order_id = '{paid}'"),
            format!("UPDATE shipments SET status = 'delivered' WHERE order_id = '{paid}'"),
            &["order_status"],
        ),
        (
            format!("UPDATE orders SET order_number = order_number + 100 WHERE id = '{canceled}'"),
            format!("UPDATE orders SET order_number = order_number - 100 WHERE id = '{canceled}'"),
            &["order_numbers"],
        ),
        (
            "UPDATE store_order_counters SET last_number = last_number + 1".into(),
            "UPDATE store_order_counters SET last_number = last_number - 1".into(),
            &["order_numbers"],
        ),
        (
            format!("UPDATE outbox_events SET event_type = 'order.noted' WHERE aggregate_id = '{canceled}' AND event_type = 'order.canceled'"),
            format!("UPDATE outbox_events SET event_type = 'order.canceled' WHERE aggregate_id = '{canceled}' AND event_type = 'order.noted'"),
            &["order_events"],
        ),
        (
            format!("UPDATE outbox_events SET sequence = sequence + 10 WHERE aggregate_id = '{paid}' AND event_type = 'order.placed'"),
            format!("UPDATE outbox_events SET sequence = sequence - 10 WHERE aggregate_id = '{paid}' AND event_type = 'order.placed'"),
            &["outbox"],
        ),
        (
            format!("UPDATE outbox_events SET status = 'failed', last_error = 'gave up' WHERE aggregate_id = '{canceled}' AND event_type = 'order.canceled'"),
            format!("UPDATE outbox_events SET status = 'published', last_error = NULL WHERE aggregate_id = '{canceled}' AND event_type = 'order.canceled'"),
            &["outbox"],
        ),
        (
            "UPDATE outbox_events SET status = 'pending', available_at = now() - interval '1 hour' WHERE id = (SELECT id FROM outbox_events ORDER BY id DESC LIMIT 1)".into(),
            "UPDATE outbox_events SET status = 'published', available_at = now() WHERE id = (SELECT id FROM outbox_events ORDER BY id DESC LIMIT 1)".into(),
            &["outbox"],
        ),
        (
            format!("UPDATE digital_deliveries SET downloaded_count = downloaded_count + 1 WHERE id = '{delivery}'"),
            format!("UPDATE digital_deliveries SET downloaded_count = downloaded_count - 1 WHERE id = '{delivery}'"),
            &["deliveries"],
        ),
    ];
    for (corrupt, restore, broken) in &cases {
        sql(&app, corrupt).await;
        let (ok, violated, report) = check(&app);
        let expected: BTreeSet<String> = broken.iter().map(|s| s.to_string()).collect();
        assert!(!ok, "{corrupt}: exit 0");
        assert_eq!(violated, expected, "{corrupt}: {report:#}");
        sql(&app, restore).await;
    }
    // a paid digital item left undelivered
    sql(&app, &format!("DELETE FROM digital_deliveries WHERE id = '{delivery}'")).await;
    let (ok, violated, report) = check(&app);
    assert!(!ok);
    assert_eq!(violated, BTreeSet::from(["deliveries".to_string()]), "{report:#}");
    let item = report["checks"][8]["violations"][0]["detail"].as_str().unwrap();
    assert!(item.contains("no delivery"), "{item}");
}
