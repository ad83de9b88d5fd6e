//! Holds follow the cart: quantity changes, removal, abandonment, expiry.

use reqwest::Method;
use serde_json::json;

use super::{add, new_cart, numbers, stocked_variant};
use crate::support::{Answer, TestApp};

async fn cart_call(app: &TestApp, method: Method, path: &str, secret: &str, body: Option<serde_json::Value>) -> Answer {
    let mut req = app.client.request(method, app.url(path)).header("x-cart-secret", secret);
    if let Some(b) = body {
        req = req.json(&b);
    }
    TestApp::read(req.send().await.unwrap()).await
}

#[tokio::test]
async fn a_hold_past_its_ttl_frees_its_stock_for_the_next_shopper() {
    let app = TestApp::spawn_with(|c, o| {
        o.worker = false; // no sweep: the lapsed hold is freed by the next shopper's attempt
        c.worker.reservation_sweep_ms = 3_600_000;
    })
    .await;
    let shop = app.shop().await;
    app.patch("/admin/v1/store/settings", &shop.owner_token, json!({ "reservation_ttl_seconds": 1 })).await.expect(200);
    let variant = stocked_variant(&app, &shop, 1, false, None).await;
    let first = new_cart(&app, &shop).await;
    let second = new_cart(&app, &shop).await;
    add(&app, &shop, &first, &variant, 1, None).await.expect(201);
    add(&app, &shop, &second, &variant, 1, None).await.expect_problem(409, "sold_out");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // never counted as held after expiry, even before any sweep
    let p = app.call(Method::GET, &format!("/store/v1/stores/{}/products", shop.handle), None, None).await.expect(200);
    assert_eq!(p["items"][0]["availability"], "low");
    add(&app, &shop, &second, &variant, 1, None).await.expect(201);
    assert_eq!(numbers(&app, &variant).await, (1, 1));
    let statuses: Vec<String> = sqlx::query_scalar("SELECT status FROM inventory_reservations ORDER BY id")
        .fetch_all(&app.owner)
        .await
        .unwrap();
    assert_eq!(statuses, ["expired", "active"]);
    // the first cart's line stays, without a hold
    let view =
        cart_call(&app, Method::GET, &format!("/store/v1/stores/{}/carts/{}", shop.handle, first.0), &first.1, None)
            .await
            .expect(200);
    assert_eq!((view["items"][0]["quantity"].as_i64(), view["items"][0]["held"].as_i64()), (Some(1), Some(0)));
}

#[tokio::test]
async fn the_worker_sweeps_lapsed_holds() {
    let app = TestApp::spawn_with(|c, _| c.worker.reservation_sweep_ms = 100).await;
    let shop = app.shop().await;
    app.patch("/admin/v1/store/settings", &shop.owner_token, json!({ "reservation_ttl_seconds": 1 })).await.expect(200);
    let variant = stocked_variant(&app, &shop, 5, false, None).await;
    let cart = new_cart(&app, &shop).await;
    add(&app, &shop, &cart, &variant, 4, None).await.expect(201);
    assert_eq!(numbers(&app, &variant).await, (5, 4));
    for _ in 0..50 {
        if numbers(&app, &variant).await == (5, 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(numbers(&app, &variant).await, (5, 0));
    assert_eq!(
        app.count("SELECT count(*) FROM inventory_movements WHERE reason = 'expiry' AND reserved_delta = -4").await,
        1
    );
}

#[tokio::test]
async fn changing_removing_and_abandoning_lines_moves_holds() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let variant = stocked_variant(&app, &shop, 10, false, None).await;
    let cart = new_cart(&app, &shop).await;
    let base = format!("/store/v1/stores/{}/carts/{}", shop.handle, cart.0);
    let added = add(&app, &shop, &cart, &variant, 2, None).await.expect(201);
    assert_eq!((added["status"].as_str(), added["quantity"].as_i64()), (Some("held"), Some(2)));
    let item = added["item_id"].as_str().unwrap().to_string();
    let view = cart_call(&app, Method::GET, &base, &cart.1, None).await.expect(200);
    assert_eq!(view["items"][0]["id"], item.as_str());
    assert_eq!(view["items"][0]["held"], 2);
    assert_eq!(view["subtotal"]["amount"], 2000);
    // more
    let v = cart_call(&app, Method::PATCH, &format!("{base}/items/{item}"), &cart.1, Some(json!({ "quantity": 6 })))
        .await
        .expect(200);
    assert_eq!((v["items"][0]["quantity"].as_i64(), v["items"][0]["held"].as_i64()), (Some(6), Some(6)));
    assert_eq!(numbers(&app, &variant).await, (10, 6));
    // more than there is: refused, nothing changes
    cart_call(&app, Method::PATCH, &format!("{base}/items/{item}"), &cart.1, Some(json!({ "quantity": 11 })))
        .await
        .expect_problem(409, "insufficient_stock");
    assert_eq!(numbers(&app, &variant).await, (10, 6));
    // fewer: stock returns, newest holds first
    let v = cart_call(&app, Method::PATCH, &format!("{base}/items/{item}"), &cart.1, Some(json!({ "quantity": 1 })))
        .await
        .expect(200);
    assert_eq!(v["items"][0]["held"], 1);
    assert_eq!(numbers(&app, &variant).await, (10, 1));
    // removal releases it all
    let v = cart_call(&app, Method::DELETE, &format!("{base}/items/{item}"), &cart.1, None).await.expect(200);
    assert_eq!(v["items"].as_array().unwrap().len(), 0);
    assert_eq!(numbers(&app, &variant).await, (10, 0));
    // abandoning releases too, and the cart takes no more
    add(&app, &shop, &cart, &variant, 3, None).await.expect(201);
    cart_call(&app, Method::POST, &format!("{base}/abandon"), &cart.1, None).await.expect(200);
    assert_eq!(numbers(&app, &variant).await, (10, 0));
    add(&app, &shop, &cart, &variant, 1, None).await.expect_problem(409, "cart_not_active");
    let reasons: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT reason FROM inventory_movements WHERE variant_id = '{variant}' ORDER BY id"
    ))
    .fetch_all(&app.owner)
    .await
    .unwrap();
    // 2 held, 4 more held, down to 1 (the newer hold of 4 goes, the older shrinks by 1),
    // removed (the last 1), 3 held again, abandoned
    assert_eq!(
        reasons,
        ["receipt", "reservation", "reservation", "release", "release", "release", "reservation", "release"]
    );
}

#[tokio::test]
async fn a_cart_answers_only_to_its_secret() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let other = app.shop().await;
    let variant = stocked_variant(&app, &shop, 10, false, None).await;
    let cart = new_cart(&app, &shop).await;
    let wrong = (cart.0.clone(), "cs_wrong".to_string());
    add(&app, &shop, &wrong, &variant, 1, None).await.expect_problem(404, "cart_not_found");
    let no_secret =
        app.client.get(app.url(&format!("/store/v1/stores/{}/carts/{}", shop.handle, cart.0))).send().await.unwrap();
    TestApp::read(no_secret).await.expect_problem(404, "cart_not_found");
    // another store cannot reach the cart, nor sell this store's variant
    add(&app, &other, &cart, &variant, 1, None).await.expect_problem(404, "cart_not_found");
    let other_cart = new_cart(&app, &other).await;
    add(&app, &other, &other_cart, &variant, 1, None).await.expect_problem(404, "variant_not_found");
    assert_eq!(numbers(&app, &variant).await, (10, 0));
}

#[tokio::test]
async fn creating_a_cart_twice_with_one_idempotency_key_makes_one_cart() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let path = format!("/store/v1/stores/{}/carts", shop.handle);
    let create = |key: &'static str, email: &'static str| {
        let req = app.client.post(app.url(&path)).header("idempotency-key", key).json(&json!({ "email": email }));
        async move { TestApp::read(req.send().await.unwrap()).await }
    };
    // twelve retries of one request at once: one cart, every caller gets it and its secret
    let answers = futures::future::join_all((0..12).map(|_| create("cart-try-1", "a@example.jp"))).await;
    let first = &answers[0].body;
    for a in &answers {
        assert_eq!(a.status.as_u16(), 201, "{}", a.body);
        assert_eq!((&a.body["cart"]["id"], &a.body["secret"]), (&first["cart"]["id"], &first["secret"]));
    }
    assert_eq!(app.count("SELECT count(*) FROM carts").await, 1);
    // the secret handed back on a replay opens the cart
    let cart = (first["cart"]["id"].as_str().unwrap().to_string(), first["secret"].as_str().unwrap().to_string());
    cart_call(&app, Method::GET, &format!("{path}/{}", cart.0), &cart.1, None).await.expect(200);
    // the same key with another body is refused and makes nothing; another key is another cart
    create("cart-try-1", "b@example.jp").await.expect_problem(422, "idempotency_key_reused");
    create("cart-try-2", "a@example.jp").await.expect(201);
    assert_eq!(app.count("SELECT count(*) FROM carts").await, 2);
    // without a key every call is a new cart
    new_cart(&app, &shop).await;
    new_cart(&app, &shop).await;
    assert_eq!(app.count("SELECT count(*) FROM carts").await, 4);
}
