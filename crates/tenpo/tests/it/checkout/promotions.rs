//! Promotion codes: staff manage them; a cart hears exactly why a code does not apply.

use reqwest::Method;
use serde_json::json;

use super::{address, cart_call, cart_with, checkout, tea_shop, yen};
use crate::support::TestApp;

#[tokio::test]
async fn staff_create_list_change_and_delete_codes() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let t = tea_shop(&app).await;
    let token = &t.shop.owner_token;
    let made = app
        .post("/admin/v1/promotions", token, json!({ "code": "summer-500", "discount_type": "fixed", "amount_off": yen(500), "min_subtotal": yen(3000) }))
        .await
        .expect(201);
    assert_eq!(
        (made["code"].as_str(), made["status"].as_str(), made["times_used"].as_i64()),
        (Some("SUMMER-500"), Some("active"), Some(0))
    );
    app.post(
        "/admin/v1/promotions",
        token,
        json!({ "code": "Summer-500", "discount_type": "percent", "percent_off_bps": 500 }),
    )
    .await
    .expect_problem(409, "promotion_code_taken");
    let bad = app
        .post(
            "/admin/v1/promotions",
            token,
            json!({ "code": "no spaces", "discount_type": "percent", "percent_off_bps": 0,
                    "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-11-01T00:00:00Z", "usage_limit_total": 0 }),
        )
        .await
        .expect_problem(422, "validation_failed");
    let fields: Vec<&str> = bad["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for f in ["code", "percent_off_bps", "ends_at", "usage_limit_total"] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    app.post("/admin/v1/promotions", token, json!({ "code": "FIXED", "discount_type": "fixed" }))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(app.count("SELECT count(*) FROM promotions").await, 1);

    let id = made["id"].as_str().unwrap();
    let changed = app
        .patch(&format!("/admin/v1/promotions/{id}"), token, json!({ "status": "inactive", "min_subtotal": null }))
        .await
        .expect(200);
    assert_eq!((changed["status"].as_str(), changed["min_subtotal"].is_null()), (Some("inactive"), true));
    let list = app.get("/admin/v1/promotions", token).await.expect(200);
    assert_eq!(list["items"][0]["code"], "SUMMER-500");
    // a clerk may not make codes (money decisions are for managers)
    let (_, clerk) = app.member(&t.shop, "staff").await;
    app.post(
        "/admin/v1/promotions",
        &clerk,
        json!({ "code": "MINE", "discount_type": "percent", "percent_off_bps": 9000 }),
    )
    .await
    .expect_problem(403, "permission_denied");
    app.delete(&format!("/admin/v1/promotions/{id}"), token).await.expect(204);
    app.get(&format!("/admin/v1/promotions/{id}"), token).await.expect_problem(404, "promotion_not_found");
    // another store never sees it
    let other = app.shop().await;
    assert!(
        app.get("/admin/v1/promotions", &other.owner_token).await.expect(200)["items"].as_array().unwrap().is_empty()
    );
}

#[tokio::test]
async fn each_reason_a_code_does_not_apply_has_its_own_answer() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    let token = &shop.owner_token;
    let promo = |code: &str, extra: serde_json::Value| {
        let mut body = json!({ "code": code, "discount_type": "percent", "percent_off_bps": 1000 });
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    for body in [
        promo("LATER", json!({ "starts_at": "2099-01-01T00:00:00Z" })),
        promo("OVER", json!({ "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-02-01T00:00:00Z" })),
        promo("PAUSED", json!({ "status": "inactive" })),
        promo("BIG", json!({ "min_subtotal": yen(5000) })),
        promo("ONE", json!({ "usage_limit_total": 1 })),
        promo("OK", json!({})),
    ] {
        app.post("/admin/v1/promotions", token, body).await.expect(201);
    }
    let cart = cart_with(&app, shop, &[(&t.tea, 1)]).await;
    let apply = |code: &'static str| {
        let (app, cart) = (&app, &cart);
        async move { cart_call(app, Method::PUT, shop, cart, "/promotion", Some(json!({ "code": code }))).await }
    };
    apply("NOPE").await.expect_problem(404, "promotion_unknown");
    apply("LATER").await.expect_problem(422, "promotion_not_started");
    apply("OVER").await.expect_problem(422, "promotion_ended");
    apply("PAUSED").await.expect_problem(422, "promotion_inactive");
    apply("BIG").await.expect_problem(422, "promotion_below_minimum");
    // ONE is used once by someone else
    let first = cart_with(&app, shop, &[(&t.tea, 1)]).await;
    cart_call(&app, Method::PUT, shop, &first, "/promotion", Some(json!({ "code": "ONE" }))).await.expect(200);
    checkout(&app, shop, &first, json!({ "email": "first@example.jp", "shipping_address": address("東京都"), "payment_method": "bank_transfer" }), None)
        .await
        .expect(201);
    apply("ONE").await.expect_problem(409, "promotion_used_up");
    assert!(
        cart_call(&app, Method::GET, shop, &cart, "", None).await.expect(200)["promotion_code"].is_null(),
        "refusals change nothing"
    );
    let on = apply("ok").await.expect(200);
    assert_eq!((on["discount"].clone(), on["total"].clone()), (yen(108), yen(972)));
    let off = cart_call(&app, Method::DELETE, shop, &cart, "/promotion", None).await.expect(200);
    assert_eq!((off["discount"].clone(), off["promotion_code"].is_null()), (yen(0), true));
}

#[tokio::test]
async fn checkout_checks_the_code_again() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    let made = app
        .post(
            "/admin/v1/promotions",
            &shop.owner_token,
            json!({ "code": "MIN", "discount_type": "fixed", "amount_off": yen(300), "min_subtotal": yen(3000), "usage_limit_per_customer": 1 }),
        )
        .await
        .expect(201);
    let body = |email: &str| json!({ "email": email, "shipping_address": address("東京都"), "payment_method": "bank_transfer" });
    // below the minimum after the shopper took a line out
    let cart = cart_with(&app, shop, &[(&t.tea, 3)]).await;
    cart_call(&app, Method::PUT, shop, &cart, "/promotion", Some(json!({ "code": "MIN" }))).await.expect(200);
    let item = cart_call(&app, Method::GET, shop, &cart, "", None).await.expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    cart_call(&app, Method::PATCH, shop, &cart, &format!("/items/{item}"), Some(json!({ "quantity": 2 })))
        .await
        .expect(200);
    checkout(&app, shop, &cart, body("p@example.jp"), None).await.expect_problem(422, "promotion_below_minimum");
    cart_call(&app, Method::PATCH, shop, &cart, &format!("/items/{item}"), Some(json!({ "quantity": 3 })))
        .await
        .expect(200);
    let placed = checkout(&app, shop, &cart, body("p@example.jp"), None).await.expect(201);
    assert_eq!(
        (placed["order"]["discount"].clone(), placed["order"]["promotion_code"].clone()),
        (yen(300), json!("MIN"))
    );
    // once per customer: the same shopper (any letter case) again is refused, and so is another
    // email with the same phone (one identity); someone else is not
    let again = cart_with(&app, shop, &[(&t.cup, 1)]).await;
    cart_call(&app, Method::PUT, shop, &again, "/promotion", Some(json!({ "code": "MIN" }))).await.expect(200);
    checkout(&app, shop, &again, body("P@Example.jp"), None).await.expect_problem(409, "promotion_used_up");
    checkout(&app, shop, &again, body("alias@example.jp"), None).await.expect_problem(409, "promotion_used_up");
    let mut someone_else = body("q@example.jp");
    someone_else["shipping_address"]["phone"] = json!("080-9999-0000");
    checkout(&app, shop, &again, someone_else, None).await.expect(201);
    // the code was paused meanwhile
    let id = made["id"].as_str().unwrap();
    let paused = cart_with(&app, shop, &[(&t.cup, 1)]).await;
    cart_call(&app, Method::PUT, shop, &paused, "/promotion", Some(json!({ "code": "MIN" }))).await.expect(200);
    app.patch(&format!("/admin/v1/promotions/{id}"), &shop.owner_token, json!({ "status": "inactive" }))
        .await
        .expect(200);
    checkout(&app, shop, &paused, body("r@example.jp"), None).await.expect_problem(422, "promotion_inactive");
    assert_eq!(app.get(&format!("/admin/v1/promotions/{id}"), &shop.owner_token).await.expect(200)["times_used"], 2);
}

#[tokio::test]
async fn an_order_a_code_makes_free_is_paid_at_once() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    app.post(
        "/admin/v1/promotions",
        &shop.owner_token,
        json!({ "code": "GIFT", "discount_type": "percent", "percent_off_bps": 10000 }),
    )
    .await
    .expect(201);
    let cart = cart_with(&app, shop, &[(&t.guide, 1)]).await;
    cart_call(&app, Method::PUT, shop, &cart, "/promotion", Some(json!({ "code": "GIFT" }))).await.expect(200);
    let placed =
        checkout(&app, shop, &cart, json!({ "email": "gift@example.jp", "payment_method": "bank_transfer" }), None)
            .await
            .expect(201);
    let order = &placed["order"];
    assert_eq!((order["total"].clone(), order["status"].as_str()), (yen(0), Some("completed")));
    assert_eq!((order["payment"]["status"].as_str(), order["payment"]["due_at"].is_null()), (Some("confirmed"), true));
    let id = order["id"].as_str().unwrap();
    let events: Vec<String> =
        sqlx::query_scalar(&format!("SELECT event_type FROM outbox_events WHERE aggregate_id = '{id}' ORDER BY id"))
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert_eq!(events, ["order.placed", "payment.confirmed"], "digital goods are delivered from the confirmation");
    // nothing to pay: the same payment.confirmed, for zero
    let confirmed: checkout::event::PaymentConfirmed = app.payload_of(id).await;
    assert_eq!(
        (confirmed.due, confirmed.received, confirmed.mismatch),
        (kernel::Money::jpy(0), kernel::Money::jpy(0), false)
    );
}
