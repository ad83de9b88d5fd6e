//! Checkouts that race: exact counts after, never an order without its stock.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use super::{address, cart_call, checkout};
use crate::inventory::{add, decided, inventory_check, new_cart, numbers, stocked_variant};
use crate::support::TestApp;

fn order_body(email: &str) -> Value {
    json!({ "email": email, "shipping_address": address("東京都"), "payment_method": "bank_transfer" })
}

/// Ends every hold now, as if the shoppers had dawdled past the reservation time.
async fn lapse_holds(app: &TestApp) {
    sqlx::query("UPDATE inventory_reservations SET expires_at = now() - interval '1 second' WHERE status = 'active'")
        .execute(&app.owner)
        .await
        .unwrap();
}

#[tokio::test]
async fn fifty_checkouts_for_the_last_ten_units_place_ten_orders() {
    let app = Arc::new(TestApp::spawn_with(|_, o| o.worker = false).await);
    let shop = Arc::new(app.shop().await);
    app.with_bank_account(&shop).await;
    let variant = stocked_variant(&app, &shop, 10, false, None).await;
    // fifty carts each hold one unit in turn; every hold lapses, so checkout must reserve again
    let mut carts = Vec::new();
    for _ in 0..50 {
        let cart = new_cart(&app, &shop).await;
        add(&app, &shop, &cart, &variant, 1, None).await.expect(201);
        lapse_holds(&app).await;
        carts.push(cart);
    }
    let answers = join_all(carts.into_iter().enumerate().map(|(i, cart)| {
        let (app, shop) = (app.clone(), shop.clone());
        tokio::spawn(async move { checkout(&app, &shop, &cart, order_body(&format!("s{i}@example.jp")), None).await })
    }))
    .await;
    let mut placed = 0;
    let mut refusals = HashSet::new();
    for a in answers {
        let a = a.unwrap();
        match a.status.as_u16() {
            201 => placed += 1,
            409 => {
                refusals.insert(a.body["code"].as_str().unwrap().to_string());
            }
            s => panic!("unexpected {s}: {}", a.body),
        }
    }
    assert_eq!(placed, 10);
    assert_eq!(refusals, HashSet::from(["sold_out".to_string()]));
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 10);
    assert_eq!(app.count("SELECT coalesce(sum(quantity), 0) FROM order_items").await, 10);
    assert_eq!(numbers(&app, &variant).await, (0, 0), "ten sold, nothing held");
    assert_eq!(app.count("SELECT count(*) FROM inventory_movements WHERE reason = 'sale'").await, 10);
    let (clean, out) = inventory_check(&app, false);
    assert!(clean, "{out}");
}

#[tokio::test]
async fn a_code_limited_to_five_uses_is_used_five_times_by_twenty_checkouts() {
    let app = Arc::new(TestApp::spawn_with(|_, o| o.worker = false).await);
    let shop = Arc::new(app.shop().await);
    app.with_bank_account(&shop).await;
    let variant = stocked_variant(&app, &shop, 100, false, None).await;
    let promo = app
        .post(
            "/admin/v1/promotions",
            &shop.owner_token,
            json!({ "code": "FIVE", "discount_type": "fixed", "amount_off": { "amount": 100, "currency": "JPY" }, "usage_limit_total": 5 }),
        )
        .await
        .expect(201);
    let mut carts = Vec::new();
    for _ in 0..20 {
        let cart = new_cart(&app, &shop).await;
        add(&app, &shop, &cart, &variant, 1, None).await.expect(201);
        cart_call(&app, Method::PUT, &shop, &cart, "/promotion", Some(json!({ "code": "FIVE" }))).await.expect(200);
        carts.push(cart);
    }
    let answers = join_all(carts.into_iter().enumerate().map(|(i, cart)| {
        let (app, shop) = (app.clone(), shop.clone());
        tokio::spawn(async move { checkout(&app, &shop, &cart, order_body(&format!("p{i}@example.jp")), None).await })
    }))
    .await;
    let codes: Vec<String> = answers
        .into_iter()
        .map(|a| {
            let a = a.unwrap();
            if a.status.as_u16() == 201 { "placed".to_string() } else { a.body["code"].as_str().unwrap().to_string() }
        })
        .collect();
    assert_eq!(codes.iter().filter(|c| *c == "placed").count(), 5, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "promotion_used_up").count(), 15, "{codes:?}");
    let id = promo["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/admin/v1/promotions/{id}"), &shop.owner_token).await.expect(200)["times_used"], 5);
    assert_eq!(app.count("SELECT count(*) FROM promotion_usages WHERE released_at IS NULL").await, 5);
    assert_eq!(app.count("SELECT count(*) FROM orders WHERE promotion_code = 'FIVE'").await, 5);
    // the refused shoppers still hold their unit and can buy without the code
    assert_eq!(numbers(&app, &variant).await, (95, 15));
}

#[tokio::test]
async fn a_checkout_retried_ten_times_at_once_with_one_key_places_one_order() {
    let app = Arc::new(TestApp::spawn_with(|_, o| o.worker = false).await);
    let shop = Arc::new(app.shop().await);
    app.with_bank_account(&shop).await;
    let variant = stocked_variant(&app, &shop, 10, false, None).await;
    let cart = Arc::new(new_cart(&app, &shop).await);
    add(&app, &shop, &cart, &variant, 2, None).await.expect(201);
    let answers = join_all((0..10).map(|_| {
        let (app, shop, cart) = (app.clone(), shop.clone(), cart.clone());
        tokio::spawn(async move {
            checkout(&app, &shop, &cart, order_body("retry@example.jp"), Some("tap-twice")).await.expect(201)
        })
    }))
    .await;
    let answers: Vec<Value> = answers.into_iter().map(Result::unwrap).collect();
    let ids: HashSet<&str> = answers.iter().map(|a| a["order"]["id"].as_str().unwrap()).collect();
    let tokens: HashSet<&str> = answers.iter().map(|a| a["order_token"].as_str().unwrap()).collect();
    assert_eq!((ids.len(), tokens.len()), (1, 1), "every retry answers the same order");
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 1);
    assert_eq!(numbers(&app, &variant).await, (8, 0));
    // the key belongs to that request: another body under it is refused
    checkout(&app, &shop, &cart, order_body("other@example.jp"), Some("tap-twice"))
        .await
        .expect_problem(422, "idempotency_key_reused");
    // and without a key, the ordered cart is no longer open
    checkout(&app, &shop, &cart, order_body("retry@example.jp"), None).await.expect_problem(409, "cart_not_active");
    // keys are the store's: another cart with the same key is refused, even racing, and so is
    // a cart whose checkout raced with it
    let carts: Vec<(String, String)> = join_all((0..5).map(|_| new_cart(&app, &shop))).await;
    for c in &carts {
        add(&app, &shop, c, &variant, 1, None).await.expect(201);
    }
    let answers = join_all(carts.iter().map(|c| {
        let (app, shop, c) = (app.clone(), shop.clone(), c.clone());
        tokio::spawn(async move { checkout(&app, &shop, &c, order_body("retry@example.jp"), Some("shared-key")).await })
    }))
    .await;
    let mut codes: Vec<String> = answers
        .into_iter()
        .map(|a| {
            let a = a.unwrap();
            if a.status.as_u16() == 201 {
                "placed".into()
            } else {
                format!("{} {}", a.status.as_u16(), a.body["code"].as_str().unwrap_or(""))
            }
        })
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "422 idempotency_key_reused",
            "422 idempotency_key_reused",
            "422 idempotency_key_reused",
            "422 idempotency_key_reused",
            "placed"
        ]
    );
    checkout(&app, &shop, &cart, order_body("retry@example.jp"), Some("shared-key"))
        .await
        .expect_problem(422, "idempotency_key_reused");
}

/// The flash sale: 300 shoppers each add one unit of a 100-unit hot variant and check
/// out straight away, all at once.
#[tokio::test]
async fn a_flash_sale_ends_with_exactly_one_order_per_granted_shopper() {
    let app = Arc::new(TestApp::spawn().await);
    let shop = Arc::new(app.shop().await);
    app.with_bank_account(&shop).await;
    let variant = Arc::new(stocked_variant(&app, &shop, 100, true, None).await);
    let mut carts = Vec::new();
    for _ in 0..300 {
        carts.push(new_cart(&app, &shop).await);
    }
    let answers = join_all(carts.into_iter().enumerate().map(|(i, cart)| {
        let (app, shop, variant) = (app.clone(), shop.clone(), variant.clone());
        tokio::spawn(async move {
            let first = add(&app, &shop, &cart, &variant, 1, None).await;
            let decision = decided(&app, &shop, &cart, first).await;
            // an overloaded server answers 503 with Retry-After: the shopper's client retries
            // under the same key (one checkout)
            let key = format!("flash-{i}");
            loop {
                let placed = checkout(&app, &shop, &cart, order_body(&format!("f{i}@example.jp")), Some(&key)).await;
                if placed.status.as_u16() != 503 {
                    return (cart.0, decision, placed);
                }
                assert_eq!(placed.body["code"], "overloaded", "{}", placed.body);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        })
    }))
    .await;
    let mut granted = HashSet::new();
    let mut ordered = HashSet::new();
    for a in answers {
        let (cart, decision, placed) = a.unwrap();
        match decision["status_code"].as_u64() {
            Some(201) => {
                granted.insert(cart.clone());
            }
            Some(409) => {
                let code = decision["body"]["code"].as_str().or(decision["body"]["failure_code"].as_str());
                assert_eq!(code, Some("sold_out"), "{decision}");
            }
            other => panic!("add answered {other:?}: {decision}"),
        }
        match placed.status.as_u16() {
            201 => {
                ordered.insert(cart);
            }
            // a refused shopper's cart stays empty
            422 => assert_eq!(placed.body["code"], "cart_empty"),
            s => panic!("checkout answered {s}: {}", placed.body),
        }
    }
    assert_eq!(granted.len(), 100);
    assert_eq!(ordered, granted, "the orders belong to exactly the shoppers whose holds were granted");
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 100);
    assert_eq!(
        app.count("SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.location_id IS NOT NULL)").await,
        0,
        "no order lacks its stock"
    );
    assert_eq!(numbers(&app, &variant).await, (0, 0));
    assert_eq!(app.count("SELECT count(*) FROM inventory_movements WHERE reason = 'sale'").await, 100);
    let numbers: Vec<i64> = sqlx::query_scalar("SELECT order_number FROM orders ORDER BY order_number")
        .fetch_all(&app.owner)
        .await
        .unwrap();
    assert_eq!(numbers, (1001..=1100).collect::<Vec<i64>>(), "numbers without gaps");
    let (clean, out) = inventory_check(&app, false);
    assert!(clean, "{out}");
}

#[tokio::test]
async fn checkouts_sharing_two_variants_in_opposite_cart_order_all_place_and_sell_exactly() {
    let app = Arc::new(TestApp::spawn_with(|_, o| o.worker = false).await);
    let shop = Arc::new(app.shop().await);
    app.with_bank_account(&shop).await;
    let a = stocked_variant(&app, &shop, 50, false, None).await;
    let b = stocked_variant(&app, &shop, 50, false, None).await;
    // half the carts take a then b, half b then a: their stock rows are sold in one order anyway
    let mut carts = Vec::new();
    for i in 0..20 {
        let cart = new_cart(&app, &shop).await;
        let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        add(&app, &shop, &cart, first, 1, None).await.expect(201);
        add(&app, &shop, &cart, second, 2, None).await.expect(201);
        carts.push(cart);
    }
    let answers = join_all(carts.into_iter().enumerate().map(|(i, cart)| {
        let (app, shop) = (app.clone(), shop.clone());
        tokio::spawn(async move { checkout(&app, &shop, &cart, order_body(&format!("o{i}@example.jp")), None).await })
    }))
    .await;
    for a in answers {
        let a = a.unwrap();
        assert_eq!(a.status.as_u16(), 201, "{}", a.body);
    }
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 20);
    // each variant: ten carts took one unit and ten took two
    assert_eq!(numbers(&app, &a).await, (50 - 30, 0));
    assert_eq!(numbers(&app, &b).await, (50 - 30, 0));
    assert_eq!(app.count("SELECT count(*) FROM inventory_movements WHERE reason = 'sale'").await, 40);
    let numbers_given: HashSet<i64> = sqlx::query_scalar("SELECT order_number FROM orders")
        .fetch_all(&app.owner)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(numbers_given, (1001..=1020).collect::<HashSet<i64>>(), "numbered without gaps");
    let (clean, out) = inventory_check(&app, false);
    assert!(clean, "{out}");
}
