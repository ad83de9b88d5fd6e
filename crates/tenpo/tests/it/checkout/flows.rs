//! A shopper buys end to end; staff take the order to delivery.

use reqwest::Method;
use serde_json::json;

use checkout::event::PaymentConfirmed;
use checkout::order::PaymentMethod;
use kernel::Money;

use super::{address, cart_call, cart_with, checkout, tea_shop, yen};
use crate::inventory::numbers;
use crate::support::TestApp;

#[tokio::test]
async fn bank_transfer_from_browsing_to_completed() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    app.post(
        "/admin/v1/promotions",
        &shop.owner_token,
        json!({ "code": "SPRING10", "discount_type": "percent", "percent_off_bps": 1000 }),
    )
    .await
    .expect(201);
    // browse
    let list =
        app.call(Method::GET, &format!("/store/v1/stores/{}/products", shop.handle), None, None).await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    // two teas (8%) and a teacup (10%), with a code
    let cart = cart_with(&app, shop, &[(&t.tea, 2), (&t.cup, 1)]).await;
    let view =
        cart_call(&app, Method::PUT, shop, &cart, "/promotion", Some(json!({ "code": "spring10" }))).await.expect(200);
    assert_eq!((view["promotion_code"].as_str(), view["discount"]["amount"].as_i64()), (Some("SPRING10"), Some(546)));
    let options = cart_call(&app, Method::GET, shop, &cart, "/checkout-options?prefecture=13", None).await.expect(200);
    assert_eq!(options["payment_methods"][0]["total"], yen(5714));
    let placed = checkout(
        &app,
        shop,
        &cart,
        json!({ "email": "Hanako@Example.JP", "shipping_address": address("東京都"), "payment_method": "bank_transfer",
                "delivery_slot": "am" }),
        Some("checkout-1"),
    )
    .await
    .expect(201);
    let order = &placed["order"];
    // 2,160 + 3,300 = 5,460; 10% off = 546; shipping 800 -> 5,714
    assert_eq!(order["subtotal"], yen(5460));
    assert_eq!(order["discount"], yen(546));
    assert_eq!(order["shipping_fee"], yen(800));
    assert_eq!(order["total"], yen(5714));
    // 10%: 3,300 − 330 + 800 = 3,770 -> 342; 8%: 2,160 − 216 = 1,944 -> 144
    assert_eq!(
        order["tax_lines"],
        json!([{ "rate_bps": 1000, "taxable_amount": 3770, "tax_amount": 342 }, { "rate_bps": 800, "taxable_amount": 1944, "tax_amount": 144 }])
    );
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(order["number"], 1001);
    assert_eq!(order["email"], "hanako@example.jp");
    assert_eq!(order["payment"]["bank_account"]["bank_name"], "テスト銀行");
    assert!(order["payment"]["due_at"].is_string());
    assert_eq!(order["shipments"].as_array().unwrap().len(), 1);
    assert_eq!(numbers(&app, &t.tea).await, (98, 0), "the holds became a sale");
    let id = order["id"].as_str().unwrap();
    // the shopper sees it with the token, and only with it
    let token = placed["order_token"].as_str().unwrap();
    let seen = app
        .client
        .get(app.url(&format!("/store/v1/stores/{}/orders/{id}", shop.handle)))
        .header("x-order-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(TestApp::read(seen).await.expect(200)["total"], yen(5714));
    let wrong = app
        .client
        .get(app.url(&format!("/store/v1/stores/{}/orders/{id}", shop.handle)))
        .header("x-order-token", "ot_nope")
        .send()
        .await
        .unwrap();
    TestApp::read(wrong).await.expect_problem(404, "order_not_found");
    // one canonical customer now exists for the email
    assert_eq!(
        app.count("SELECT count(*) FROM customer_identities WHERE identity_value = 'hanako@example.jp'").await,
        1
    );

    // staff: not shippable before payment; a short amount waits; the rest confirms
    let shipment = order["shipments"][0]["id"].as_str().unwrap();
    let base = format!("/admin/v1/orders/{id}");
    app.post(
        &format!("{base}/shipments/{shipment}/ship"),
        &shop.owner_token,
        json!({ "carrier": "ヤマト運輸", "tracking_no": "1234-5678-9012" }),
    )
    .await
    .expect_problem(409, "order_not_paid");
    let short = app
        .post(&format!("{base}/payments/confirm"), &shop.owner_token, json!({ "received": yen(5000) }))
        .await
        .expect(200);
    assert_eq!(
        (short["status"].as_str(), short["payment"]["amount_mismatch"].as_bool()),
        (Some("pending_payment"), Some(true))
    );
    let paid = app
        .post(&format!("{base}/payments/confirm"), &shop.owner_token, json!({ "received": yen(714) }))
        .await
        .expect(200);
    assert_eq!((paid["status"].as_str(), paid["payment"]["status"].as_str()), (Some("processing"), Some("confirmed")));
    assert_eq!(paid["payment"]["amount_mismatch"], false);
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
    let history: Vec<&str> =
        done["history"].as_array().unwrap().iter().map(|h| h["to_status"].as_str().unwrap()).collect();
    assert_eq!(history, ["pending_payment", "processing", "shipped", "completed"]);
    // a delivered shipment does not move again
    app.post(&format!("{base}/shipments/{shipment}/deliver"), &shop.owner_token, json!({}))
        .await
        .expect_problem(409, "illegal_shipment_transition");
    let moves: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT reason FROM inventory_movements WHERE variant_id = '{}' ORDER BY id",
        t.tea
    ))
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(moves, ["receipt", "reservation", "sale"]);
    // the order's events, numbered 1, 2, ... in the order they happened
    let events: Vec<(String, i64)> = app.events_of(id).await.into_iter().map(|(t, s, _)| (t, s)).collect();
    let expected = [
        "order.placed",
        "payment.short",
        "payment.confirmed",
        "order.status_changed",
        "order.status_changed",
        "order.status_changed",
    ];
    assert_eq!(events, expected.iter().zip(1..).map(|(t, s)| (t.to_string(), s)).collect::<Vec<_>>());
    let confirmed: PaymentConfirmed = app.payload_of(id).await;
    assert_eq!(
        (confirmed.due, confirmed.received, confirmed.mismatch, confirmed.accepted_short),
        (Money::jpy(5714), Money::jpy(5714), false, false)
    );
}

#[tokio::test]
async fn cash_on_delivery_from_cart_to_completed() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    let cart = cart_with(&app, shop, &[(&t.cup, 3)]).await;
    let placed = checkout(
        &app,
        shop,
        &cart,
        json!({ "email": "taro@example.jp", "shipping_address": address("沖縄県"), "payment_method": "cod" }),
        None,
    )
    .await
    .expect(201);
    let order = &placed["order"];
    // 9,900 + Okinawa 1,500 = 11,400 before the fee: the 440 tier; total 11,840
    assert_eq!(
        (order["shipping_fee"].clone(), order["cod_fee"].clone(), order["total"].clone()),
        (yen(1500), yen(440), yen(11_840))
    );
    assert_eq!(order["tax_lines"], json!([{ "rate_bps": 1000, "taxable_amount": 11840, "tax_amount": 1076 }]));
    assert_eq!(order["status"], "processing", "COD goes straight to fulfilment");
    let id = order["id"].as_str().unwrap();
    let shipment = order["shipments"][0]["id"].as_str().unwrap();
    let base = format!("/admin/v1/orders/{id}/shipments/{shipment}");
    app.post(&format!("{base}/ship"), &shop.owner_token, json!({ "carrier": "佐川急便", "tracking_no": "S-1" }))
        .await
        .expect(200);
    app.post(&format!("{base}/deliver"), &shop.owner_token, json!({})).await.expect_problem(422, "validation_failed");
    let done =
        app.post(&format!("{base}/deliver"), &shop.owner_token, json!({ "collected": yen(11_840) })).await.expect(200);
    assert_eq!((done["status"].as_str(), done["payment"]["status"].as_str()), (Some("completed"), Some("confirmed")));
    assert_eq!(numbers(&app, &t.cup).await, (17, 0));
    // the same payment.confirmed as a bank transfer's, from the carrier's collection
    let confirmed: PaymentConfirmed = app.payload_of(id).await;
    assert_eq!(
        (confirmed.method, confirmed.due, confirmed.received, confirmed.mismatch),
        (PaymentMethod::Cod, Money::jpy(11_840), Money::jpy(11_840), false)
    );
}

#[tokio::test]
async fn cash_on_delivery_is_offered_only_for_goods_under_the_limit() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    let digital = cart_with(&app, shop, &[(&t.guide, 1)]).await;
    let body = json!({ "email": "a@example.jp", "payment_method": "cod" });
    checkout(&app, shop, &digital, body, None).await.expect_problem(422, "payment_method_unavailable");
    let options = cart_call(&app, Method::GET, shop, &digital, "/checkout-options", None).await.expect(200);
    assert_eq!(options["payment_methods"][1]["available"], false);
    // a digital-only order needs no address and pays no shipping
    let placed =
        checkout(&app, shop, &digital, json!({ "email": "a@example.jp", "payment_method": "bank_transfer" }), None)
            .await
            .expect(201);
    assert_eq!((placed["order"]["shipping_fee"].clone(), placed["order"]["total"].clone()), (yen(0), yen(550)));
    assert!(placed["order"]["shipments"].as_array().unwrap().is_empty());
    // over the limit
    app.patch("/admin/v1/store/checkout-settings", &shop.owner_token, json!({ "cod_limit": yen(5000) }))
        .await
        .expect(200);
    let big = cart_with(&app, shop, &[(&t.cup, 2)]).await;
    checkout(
        &app,
        shop,
        &big,
        json!({ "email": "a@example.jp", "shipping_address": address("東京"), "payment_method": "cod" }),
        None,
    )
    .await
    .expect_problem(422, "payment_method_unavailable");
}

#[tokio::test]
async fn a_canceled_order_restocks_releases_its_code_and_owes_what_was_paid() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    app.post(
        "/admin/v1/promotions",
        &shop.owner_token,
        json!({ "code": "ONCE", "discount_type": "fixed", "amount_off": yen(100), "usage_limit_total": 1 }),
    )
    .await
    .expect(201);
    let cart = cart_with(&app, shop, &[(&t.tea, 5)]).await;
    cart_call(&app, Method::PUT, shop, &cart, "/promotion", Some(json!({ "code": "ONCE" }))).await.expect(200);
    let placed = checkout(
        &app,
        shop,
        &cart,
        json!({ "email": "c@example.jp", "shipping_address": address("北海道"), "payment_method": "bank_transfer" }),
        None,
    )
    .await
    .expect(201);
    // 5,400 − 100 + Hokkaido 1,200
    assert_eq!(placed["order"]["total"], yen(6500));
    let id = placed["order"]["id"].as_str().unwrap();
    app.post(&format!("/admin/v1/orders/{id}/payments/confirm"), &shop.owner_token, json!({ "received": yen(7000) }))
        .await
        .expect(200);
    assert_eq!(numbers(&app, &t.tea).await, (95, 0));
    let canceled = app
        .post(&format!("/admin/v1/orders/{id}/cancel"), &shop.owner_token, json!({ "reason": "customer asked" }))
        .await
        .expect(200);
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["payment"]["refund_owed"], yen(7000));
    assert_eq!(numbers(&app, &t.tea).await, (100, 0), "stock returned");
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM inventory_movements WHERE variant_id = '{}' AND reason = 'cancellation' AND stock_delta = 5", t.tea)).await,
        1
    );
    // the code can be used again
    let again = cart_with(&app, shop, &[(&t.tea, 1)]).await;
    cart_call(&app, Method::PUT, shop, &again, "/promotion", Some(json!({ "code": "ONCE" }))).await.expect(200);
    app.post(&format!("/admin/v1/orders/{id}/cancel"), &shop.owner_token, json!({ "reason": "twice" }))
        .await
        .expect_problem(409, "order_canceled");
    let refunded =
        app.post(&format!("/admin/v1/orders/{id}/refund-paid"), &shop.owner_token, json!({})).await.expect(200);
    assert!(refunded["payment"]["refunded_at"].is_string());
}

#[tokio::test]
async fn unpaid_bank_transfers_are_canceled_at_the_due_date_and_their_stock_returns() {
    let app = TestApp::spawn_with(|c, _| c.worker.checkout_jobs_ms = 100).await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    let cart = cart_with(&app, shop, &[(&t.tea, 4)]).await;
    let placed = checkout(
        &app,
        shop,
        &cart,
        json!({ "email": "late@example.jp", "shipping_address": address("13"), "payment_method": "bank_transfer" }),
        None,
    )
    .await
    .expect(201);
    let id = placed["order"]["id"].as_str().unwrap();
    assert_eq!(numbers(&app, &t.tea).await, (96, 0));
    // the due date passes (a short test clock: move it)
    sqlx::query(&format!("UPDATE payments SET due_at = now() - interval '1 second' WHERE order_id = '{id}'"))
        .execute(&app.owner)
        .await
        .unwrap();
    for _ in 0..50 {
        if numbers(&app, &t.tea).await == (100, 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let order = app.get(&format!("/admin/v1/orders/{id}"), &shop.owner_token).await.expect(200);
    assert_eq!((order["status"].as_str(), order["payment"]["status"].as_str()), (Some("canceled"), Some("failed")));
    assert_eq!(order["cancel_reason"], "unpaid by the due date");
    assert_eq!(numbers(&app, &t.tea).await, (100, 0));
    let events: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT event_type FROM outbox_events WHERE payload_json->>'order_id' = '{id}' ORDER BY id"
    ))
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(events, ["order.placed", "payment.failed", "shipment.canceled", "order.canceled"]);
}

#[tokio::test]
async fn checkout_refuses_bad_addresses_slots_and_changed_prices_without_writing() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    let cart = cart_with(&app, shop, &[(&t.tea, 1)]).await;
    let bad = json!({ "email": "x@example.jp", "payment_method": "bank_transfer", "delivery_slot": "night",
                      "shipping_address": { "name": "", "postal_code": "123456", "prefecture": "東京府", "city": "x", "line1": "1" } });
    let body = checkout(&app, shop, &cart, bad, None).await.expect_problem(422, "validation_failed");
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        ["shipping_address.name", "shipping_address.postal_code", "shipping_address.prefecture", "delivery_slot"]
    );
    checkout(&app, shop, &cart, json!({ "email": "x@example.jp", "payment_method": "bank_transfer" }), None)
        .await
        .expect_problem(422, "validation_failed");
    // the price changed since the line was added: refused once, then it goes through at the new price
    let p: String = sqlx::query_scalar(&format!("SELECT product_id::text FROM variants WHERE id = '{}'", t.tea))
        .fetch_one(&app.owner)
        .await
        .unwrap();
    app.patch(&format!("/admin/v1/products/{p}/variants/{}", t.tea), &shop.owner_token, json!({ "price": yen(1200) }))
        .await
        .expect(200);
    let good =
        json!({ "email": "x@example.jp", "shipping_address": address("東京都"), "payment_method": "bank_transfer" });
    checkout(&app, shop, &cart, good.clone(), None).await.expect_problem(409, "prices_changed");
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 0);
    let placed = checkout(&app, shop, &cart, good.clone(), None).await.expect(201);
    assert_eq!(placed["order"]["subtotal"], yen(1200));
    checkout(&app, shop, &cart, good, None).await.expect_problem(409, "cart_not_active");
}

#[tokio::test]
async fn staff_list_filter_and_export_orders() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    for (email, method) in
        [("a@example.jp", "bank_transfer"), ("b@example.jp", "cod"), ("a@example.jp", "bank_transfer")]
    {
        let cart = cart_with(&app, shop, &[(&t.tea, 1)]).await;
        checkout(
            &app,
            shop,
            &cart,
            json!({ "email": email, "shipping_address": address("東京都"), "payment_method": method }),
            None,
        )
        .await
        .expect(201);
    }
    let all = app.get("/admin/v1/orders", &shop.owner_token).await.expect(200);
    let numbers: Vec<i64> = all["items"].as_array().unwrap().iter().map(|o| o["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [1003, 1002, 1001]);
    let a = app
        .get("/admin/v1/orders?email=A@example.jp&payment_status=pending&status=pending_payment", &shop.owner_token)
        .await
        .expect(200);
    assert_eq!(a["items"].as_array().unwrap().len(), 2);
    let one = app.get("/admin/v1/orders?number=1002", &shop.owner_token).await.expect(200);
    assert_eq!(one["items"][0]["payment_method"], "cod");
    let page = app.get("/admin/v1/orders?limit=2", &shop.owner_token).await.expect(200);
    let next = app
        .get(&format!("/admin/v1/orders?limit=2&cursor={}", page["next_cursor"].as_str().unwrap()), &shop.owner_token)
        .await
        .expect(200);
    assert_eq!(next["items"][0]["number"], 1001);
    let res = app.client.get(app.url("/admin/v1/orders/export")).bearer_auth(&shop.owner_token).send().await.unwrap();
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("order_number,placed_at,status,email,currency,subtotal,discount,shipping_fee,cod_fee,total,taxable_10,tax_10,taxable_8,tax_8"));
    // order 1001: 1,080 tea (8%) + 800 shipping (10%)
    assert!(lines[1].starts_with("1001,"), "{}", lines[1]);
    assert!(lines[1].contains(",JPY,1080,0,800,0,1880,800,72,1080,80,bank_transfer,pending,"), "{}", lines[1]);
    // another store's order is not there
    let other = app.shop().await;
    let list = app.get("/admin/v1/orders", &other.owner_token).await.expect(200);
    assert!(list["items"].as_array().unwrap().is_empty());
    let id = all["items"][0]["id"].as_str().unwrap();
    app.get(&format!("/admin/v1/orders/{id}"), &other.owner_token).await.expect_problem(404, "order_not_found");
}
