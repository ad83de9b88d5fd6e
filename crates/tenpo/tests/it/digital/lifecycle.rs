//! Deliveries from payment to expiry: settings, exactly-once creation, the download check's
//! refusals, and what staff can do.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    Order, alter_delivery, bought_guide, confirm_payment, deliveries_until, delivery_row, download_url, downloads,
    events_of, guide_shop, paid_guide_order, place, product_of, request_download, staff_action, upload,
};
use crate::checkout::{cart_call, cart_with, checkout, tea_shop};
use crate::support::TestApp;

fn seconds_until(v: &Value) -> i64 {
    let at: DateTime<Utc> = v.as_str().unwrap().parse().unwrap();
    (at - Utc::now()).num_seconds()
}

async fn refused(app: &TestApp, shop: &crate::support::Shop, order: &Order, delivery: &str, code: &str) {
    let res = request_download(app, &app.client, shop, order, delivery).await;
    TestApp::read(res).await.expect_problem(410, code);
}

#[tokio::test]
async fn each_delivery_takes_the_products_settings_else_the_stores() {
    let app = TestApp::spawn().await;
    let (t, _) = guide_shop(&app, b"guide").await;
    let token = &t.shop.owner_token;
    app.call(
        Method::PUT,
        "/admin/v1/store/digital-settings",
        Some(token),
        Some(json!({ "default_url_ttl_seconds": 86_400, "default_max_downloads": 5 })),
    )
    .await
    .expect(200);
    // a second digital product overriding both settings
    let book = app
        .post(
            "/admin/v1/products",
            token,
            json!({ "title": "Recipe book", "status": "active",
                    "variants": [{ "sku": "BOOK", "price": { "amount": 1200, "currency": "JPY" }, "fulfillment_type": "digital" }] }),
        )
        .await
        .expect(201);
    let (book_product, book_variant) =
        (book["id"].as_str().unwrap().to_string(), book["variants"][0]["id"].as_str().unwrap().to_string());
    upload(&app, &t.shop, &book_product, &book_variant, b"book", "book.epub", Some("application/epub+zip"))
        .await
        .expect(201);
    app.call(
        Method::PUT,
        &format!("/admin/v1/products/{book_product}/digital-settings"),
        Some(token),
        Some(json!({ "url_ttl_seconds": 3600, "max_downloads": 2 })),
    )
    .await
    .expect(200);

    let (order, placed) = place(&app, &t.shop, &[(&t.guide, 1), (&book_variant, 1)]).await;
    assert!(downloads(&app, &t.shop, &order).await.expect(200)["deliveries"].as_array().unwrap().is_empty(), "unpaid");
    confirm_payment(&app, &t.shop, &order, &placed["total"]).await;
    let d = deliveries_until(&app, &t.shop, &order, |d| d.len() == 2).await;
    let by_title = |title: &str| d.iter().find(|x| x["product_title"] == title).unwrap().clone();
    let (guide, book) = (by_title("Brewing guide"), by_title("Recipe book"));
    assert_eq!(guide["max_downloads"], 5, "the store's default");
    assert!((86_300..=86_400).contains(&seconds_until(&guide["url_expires_at"])));
    assert_eq!(book["max_downloads"], 2, "the product's override");
    assert!((3500..=3600).contains(&seconds_until(&book["url_expires_at"])));
    assert_eq!((book["filename"].as_str(), book["downloads_remaining"].as_i64()), (Some("book.epub"), Some(2)));
    for x in [&guide, &book] {
        assert_eq!(events_of(&app, x["id"].as_str().unwrap()).await, ["digital.delivery_created"]);
    }
    // staff see the same deliveries
    let staff_view = app.get(&format!("/admin/v1/orders/{}/deliveries", order.id), token).await.expect(200);
    assert_eq!(staff_view["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(staff_view["undelivered_item_ids"], json!([]));
}

/// Waits until the outbox event is published (every consumer done).
async fn published(app: &TestApp, event: uuid::Uuid) {
    for _ in 0..200 {
        let status: String = sqlx::query_scalar("SELECT status FROM outbox_events WHERE id = $1")
            .bind(event)
            .fetch_one(&app.owner)
            .await
            .unwrap();
        if status == "published" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("event {event} was not published");
}

#[tokio::test]
async fn a_redelivered_payment_confirmation_creates_no_second_delivery() {
    let app = TestApp::spawn().await;
    let (t, _) = guide_shop(&app, b"guide").await;
    let order = paid_guide_order(&app, &t).await;
    let event: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM outbox_events WHERE event_type = 'payment.confirmed' AND aggregate_id = $1")
            .bind(&order.id)
            .fetch_one(&app.owner)
            .await
            .unwrap();
    published(&app, event).await;
    let q = |sql: &str| sql.replace("ORDER", &order.id);
    let redeliver =
        "UPDATE outbox_events SET status = 'pending', available_at = now(), locked_until = NULL WHERE id = $1";
    // delivered again, as after a relay crash: the consumer's processed_events row skips it
    sqlx::query(redeliver).bind(event).execute(&app.owner).await.unwrap();
    published(&app, event).await;
    // and again with that record gone too: the unique order item makes the insert a no-op
    sqlx::query("DELETE FROM processed_events WHERE consumer = 'digital.deliveries' AND event_id = $1")
        .bind(event)
        .execute(&app.owner)
        .await
        .unwrap();
    sqlx::query(redeliver).bind(event).execute(&app.owner).await.unwrap();
    published(&app, event).await;
    let handled = q("SELECT count(*) FROM processed_events WHERE consumer = 'digital.deliveries'
                       AND event_id IN (SELECT id FROM outbox_events WHERE aggregate_id = 'ORDER')");
    assert_eq!(app.count(&handled).await, 1, "the consumer handled it again");
    assert_eq!(app.count(&q("SELECT count(*) FROM digital_deliveries WHERE order_id = 'ORDER'")).await, 1);
    let created = q("SELECT count(*) FROM outbox_events
                      WHERE event_type = 'digital.delivery_created' AND payload_json->>'order_id' = 'ORDER'");
    assert_eq!(app.count(&created).await, 1);
}

#[tokio::test]
async fn a_zero_total_digital_order_is_delivered_at_once() {
    let app = TestApp::spawn().await;
    let (t, _) = guide_shop(&app, b"free guide").await;
    app.post(
        "/admin/v1/promotions",
        &t.shop.owner_token,
        json!({ "code": "GIFT", "discount_type": "percent", "percent_off_bps": 10000 }),
    )
    .await
    .expect(201);
    let cart = cart_with(&app, &t.shop, &[(&t.guide, 1)]).await;
    cart_call(&app, Method::PUT, &t.shop, &cart, "/promotion", Some(json!({ "code": "GIFT" }))).await.expect(200);
    let placed =
        checkout(&app, &t.shop, &cart, json!({ "email": "gift@example.jp", "payment_method": "bank_transfer" }), None)
            .await
            .expect(201);
    let order = Order {
        id: placed["order"]["id"].as_str().unwrap().into(),
        token: placed["order_token"].as_str().unwrap().into(),
    };
    // nobody confirms anything: the checkout itself confirmed the zero payment
    let d = deliveries_until(&app, &t.shop, &order, |d| d.len() == 1).await;
    let (url, _) = download_url(&app, &t.shop, &order, d[0]["id"].as_str().unwrap()).await;
    assert_eq!(app.client.get(url).send().await.unwrap().bytes().await.unwrap().as_ref(), b"free guide");
}

#[tokio::test]
async fn a_passed_delivery_is_refused_at_once_and_the_worker_marks_it_expired() {
    let app = TestApp::spawn_with(|c, _| c.worker.digital_expiry_ms = 100).await;
    let (t, order, delivery) = bought_guide(&app, None).await;
    download_url(&app, &t.shop, &order, &delivery).await;
    alter_delivery(&app, &delivery, "url_expires_at = now() - interval '1 second'").await;
    refused(&app, &t.shop, &order, &delivery, "download_expired").await;
    let d = deliveries_until(&app, &t.shop, &order, |d| d[0]["status"] == "expired").await;
    assert_eq!((d[0]["downloadable"].as_bool(), d[0]["downloaded_count"].as_i64()), (Some(false), Some(1)));
    assert_eq!(
        events_of(&app, &delivery).await,
        ["digital.delivery_created", "digital.downloaded", "digital.delivery_expired"]
    );
    refused(&app, &t.shop, &order, &delivery, "download_expired").await;
    assert_eq!(delivery_row(&app, &delivery).await.1, 1, "refusals count nothing");
}

#[tokio::test]
async fn staff_extend_an_expired_delivery_and_it_works_again() {
    let app = TestApp::spawn().await;
    let (t, order, delivery) = bought_guide(&app, None).await;
    alter_delivery(&app, &delivery, "status = 'expired', url_expires_at = now() - interval '1 day'").await;
    refused(&app, &t.shop, &order, &delivery, "download_expired").await;
    let past = Utc::now() - chrono::Duration::minutes(1);
    staff_action(&app, &t.shop, &order, &delivery, "extend", json!({ "url_expires_at": past }))
        .await
        .expect_problem(422, "validation_failed");
    let (_, staff) = app.member(&t.shop, "staff").await;
    let later = Utc::now() + chrono::Duration::days(30);
    app.post(
        &format!("/admin/v1/orders/{}/deliveries/{delivery}/extend", order.id),
        &staff,
        json!({ "url_expires_at": later }),
    )
    .await
    .expect_problem(403, "permission_denied");
    let extended =
        staff_action(&app, &t.shop, &order, &delivery, "extend", json!({ "url_expires_at": later })).await.expect(200);
    assert_eq!((extended["status"].as_str(), extended["downloadable"].as_bool()), (Some("active"), Some(true)));
    assert!((2_591_000..=2_592_000).contains(&seconds_until(&extended["url_expires_at"])));
    download_url(&app, &t.shop, &order, &delivery).await;
    assert_eq!(
        events_of(&app, &delivery).await,
        ["digital.delivery_created", "digital.delivery_extended", "digital.downloaded"]
    );
}

#[tokio::test]
async fn a_revoked_delivery_refuses_downloads_for_good() {
    let app = TestApp::spawn().await;
    let (t, order, delivery) = bought_guide(&app, None).await;
    let (_, staff) = app.member(&t.shop, "staff").await;
    // staff may look, not revoke
    app.get(&format!("/admin/v1/orders/{}/deliveries", order.id), &staff).await.expect(200);
    app.post(&format!("/admin/v1/orders/{}/deliveries/{delivery}/revoke", order.id), &staff, json!({}))
        .await
        .expect_problem(403, "permission_denied");
    let revoked =
        staff_action(&app, &t.shop, &order, &delivery, "revoke", json!({ "reason": "chargeback" })).await.expect(200);
    assert_eq!((revoked["status"].as_str(), revoked["downloadable"].as_bool()), (Some("revoked"), Some(false)));
    refused(&app, &t.shop, &order, &delivery, "download_revoked").await;
    let later = Utc::now() + chrono::Duration::days(1);
    for (action, body) in [
        ("revoke", json!({})),
        ("extend", json!({ "url_expires_at": later })),
        ("limit", json!({ "reset_count": true })),
    ] {
        staff_action(&app, &t.shop, &order, &delivery, action, body).await.expect_problem(409, "delivery_revoked");
    }
    assert_eq!(events_of(&app, &delivery).await, ["digital.delivery_created", "digital.delivery_revoked"]);
    assert_eq!(delivery_row(&app, &delivery).await, ("revoked".into(), 0, None));
}

#[tokio::test]
async fn staff_raise_the_limit_or_reset_the_count() {
    let app = TestApp::spawn().await;
    let (t, order, delivery) = bought_guide(&app, Some(1)).await;
    download_url(&app, &t.shop, &order, &delivery).await;
    refused(&app, &t.shop, &order, &delivery, "download_limit_reached").await;
    let raised =
        staff_action(&app, &t.shop, &order, &delivery, "limit", json!({ "max_downloads": 2 })).await.expect(200);
    assert_eq!((raised["max_downloads"].as_i64(), raised["downloads_remaining"].as_i64()), (Some(2), Some(1)));
    download_url(&app, &t.shop, &order, &delivery).await;
    refused(&app, &t.shop, &order, &delivery, "download_limit_reached").await;
    staff_action(&app, &t.shop, &order, &delivery, "limit", json!({ "max_downloads": 1 }))
        .await
        .expect_problem(422, "validation_failed");
    let reset =
        staff_action(&app, &t.shop, &order, &delivery, "limit", json!({ "reset_count": true })).await.expect(200);
    assert_eq!((reset["downloaded_count"].as_i64(), reset["downloads_remaining"].as_i64()), (Some(0), Some(2)));
    download_url(&app, &t.shop, &order, &delivery).await;
    let unlimited =
        staff_action(&app, &t.shop, &order, &delivery, "limit", json!({ "max_downloads": null })).await.expect(200);
    assert!(unlimited["max_downloads"].is_null() && unlimited["downloads_remaining"].is_null());
    let changes =
        events_of(&app, &delivery).await.into_iter().filter(|e| e == "digital.delivery_limit_changed").count();
    assert_eq!(changes, 3);
    assert_eq!(delivery_row(&app, &delivery).await, ("active".into(), 1, None));
}

#[tokio::test]
async fn canceling_a_paid_order_revokes_its_downloads() {
    let app = TestApp::spawn().await;
    let (t, order, delivery) = bought_guide(&app, None).await;
    app.post(&format!("/admin/v1/orders/{}/cancel", order.id), &t.shop.owner_token, json!({ "reason": "refunded" }))
        .await
        .expect(200);
    deliveries_until(&app, &t.shop, &order, |d| d[0]["status"] == "revoked").await;
    refused(&app, &t.shop, &order, &delivery, "download_revoked").await;
}

#[tokio::test]
async fn a_file_uploaded_after_the_payment_is_delivered_by_staff() {
    let app = TestApp::spawn().await;
    let t = tea_shop(&app).await;
    let (order, placed) = place(&app, &t.shop, &[(&t.guide, 1)]).await;
    let token = &t.shop.owner_token;
    let deliver = format!("/admin/v1/orders/{}/deliveries", order.id);
    app.post(&deliver, token, json!({})).await.expect_problem(409, "order_not_paid");
    confirm_payment(&app, &t.shop, &order, &placed["total"]).await;
    let item = placed["items"][0]["id"].clone();
    // paid, but the variant has no file: nothing to deliver yet, and staff can see that
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = app.get(&deliver, token).await.expect(200);
    assert_eq!((waiting["deliveries"].clone(), waiting["undelivered_item_ids"].clone()), (json!([]), json!([item])));
    let product = product_of(&app, &t.guide).await;
    upload(&app, &t.shop, &product, &t.guide, b"late guide", "guide.pdf", None).await.expect(201);
    let delivered = app.post(&deliver, token, json!({})).await.expect(200);
    assert_eq!(delivered["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(delivered["undelivered_item_ids"], json!([]));
    // again: nothing more
    let again = app.post(&deliver, token, json!({})).await.expect(200);
    assert_eq!(again["deliveries"][0]["id"], delivered["deliveries"][0]["id"]);
}

#[tokio::test]
async fn downloads_need_the_orders_token_and_store() {
    let app = TestApp::spawn().await;
    let (t, order, delivery) = bought_guide(&app, None).await;
    let wrong = Order { id: order.id.clone(), token: "ot_not-the-token".into() };
    downloads(&app, &t.shop, &wrong).await.expect_problem(404, "order_not_found");
    let res = request_download(&app, &app.client, &t.shop, &wrong, &delivery).await;
    TestApp::read(res).await.expect_problem(404, "delivery_not_found");
    let nobody = uuid::Uuid::now_v7().to_string();
    let res = request_download(&app, &app.client, &t.shop, &order, &nobody).await;
    TestApp::read(res).await.expect_problem(404, "delivery_not_found");
    let no_token = app
        .client
        .post(app.url(&format!("/store/v1/stores/{}/orders/{}/downloads/{delivery}", t.shop.handle, order.id)))
        .send()
        .await
        .unwrap();
    TestApp::read(no_token).await.expect_problem(404, "order_not_found");
    // another store (of another tenant) knows neither the order nor its deliveries
    let other = app.shop().await;
    downloads(&app, &other, &order).await.expect_problem(404, "order_not_found");
    let res = request_download(&app, &app.client, &other, &order, &delivery).await;
    TestApp::read(res).await.expect_problem(404, "delivery_not_found");
    app.get(&format!("/admin/v1/orders/{}/deliveries", order.id), &other.owner_token)
        .await
        .expect_problem(404, "order_not_found");
    staff_action(&app, &other, &order, &delivery, "revoke", json!({})).await.expect_problem(404, "delivery_not_found");
    assert_eq!(delivery_row(&app, &delivery).await, ("active".into(), 0, None), "nothing was counted or changed");
}

#[tokio::test]
async fn a_repeated_idempotency_key_gets_the_same_link_and_counts_once() {
    let app = TestApp::spawn().await;
    let (t, order, delivery) = bought_guide(&app, Some(1)).await;
    let client = super::no_redirects();
    let ask = |key: &'static str| {
        let url = app.url(&format!("/store/v1/stores/{}/orders/{}/downloads/{delivery}", t.shop.handle, order.id));
        let req = client.post(url).header("x-order-token", &order.token).header("idempotency-key", key);
        async move { TestApp::read(req.send().await.unwrap()).await }
    };
    let first = ask("dl-1").await.expect(303);
    // the answer was lost on the way; the retry with its key gets it again, counted once
    let again = ask("dl-1").await.expect(303);
    assert_eq!((again["url"].clone(), again["downloaded_count"].clone()), (first["url"].clone(), json!(1)));
    assert_eq!(delivery_row(&app, &delivery).await.1, 1);
    ask("dl-2").await.expect_problem(410, "download_limit_reached");
    ask("bad key").await.expect_problem(422, "validation_failed");
}
