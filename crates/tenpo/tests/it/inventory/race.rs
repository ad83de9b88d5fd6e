//! Never oversell: many shoppers at once, exact counts after.

use std::sync::Arc;

use futures::future::join_all;

use super::{add, decided, inventory_check, new_cart, numbers, stocked_variant};
use crate::support::TestApp;

/// `shoppers` carts each add `quantity` of a variant with `stock` units, all at once. Answers
/// how many were granted and the refusal codes seen.
async fn race(hot: bool, stock: i32, shoppers: usize, quantity: i32) -> (usize, Vec<String>, i64, i64) {
    let app = Arc::new(TestApp::spawn().await);
    let shop = Arc::new(app.shop().await);
    let variant = Arc::new(stocked_variant(&app, &shop, stock, hot, None).await);
    let mut carts = Vec::new();
    for _ in 0..shoppers {
        carts.push(new_cart(&app, &shop).await);
    }
    let answers = join_all(carts.into_iter().map(|cart| {
        let (app, shop, variant) = (app.clone(), shop.clone(), variant.clone());
        tokio::spawn(async move {
            // an overloaded server answers 503 with Retry-After: a shopper's client retries
            // under the same key, which the test counts as one attempt
            let key = format!("race-{}", cart.0);
            loop {
                let first = add(&app, &shop, &cart, &variant, quantity, Some(&key)).await;
                if first.status.as_u16() != 503 {
                    return decided(&app, &shop, &cart, first).await;
                }
                assert_eq!(first.body["code"], "overloaded", "{}", first.body);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        })
    }))
    .await;
    let mut granted = 0;
    let mut refusals = Vec::new();
    for a in answers {
        let a = a.unwrap();
        match a["status_code"].as_u64() {
            Some(201) => granted += 1,
            Some(409) => {
                let code = a["body"]["code"].as_str().or(a["body"]["failure_code"].as_str()).unwrap().to_string();
                refusals.push(code);
            }
            other => panic!("unexpected answer {other:?}: {a}"),
        }
    }
    let (stock_now, reserved) = numbers(&app, &variant).await;
    let (clean, out) = inventory_check(&app, false);
    assert!(clean, "inventory check found drift: {out}");
    (granted, refusals, stock_now, reserved)
}

#[tokio::test]
async fn five_hundred_shoppers_race_for_a_hundred_units_on_the_normal_path() {
    let (granted, refusals, stock, reserved) = race(false, 100, 500, 1).await;
    assert_eq!(granted, 100);
    assert_eq!(refusals.len(), 400);
    assert!(refusals.iter().all(|c| c == "sold_out"), "{refusals:?}");
    assert_eq!((stock, reserved), (100, 100));
}

#[tokio::test]
async fn five_hundred_shoppers_race_for_a_hundred_units_on_the_hot_path() {
    let (granted, refusals, stock, reserved) = race(true, 100, 500, 1).await;
    assert_eq!(granted, 100);
    assert_eq!(refusals.len(), 400);
    assert!(refusals.iter().all(|c| c == "sold_out"), "{refusals:?}");
    assert_eq!((stock, reserved), (100, 100));
}

#[tokio::test]
async fn racing_for_three_units_each_never_oversells_either_path() {
    for hot in [false, true] {
        let (granted, refusals, stock, reserved) = race(hot, 100, 200, 3).await;
        assert_eq!(granted, 33, "hot={hot}");
        assert_eq!(reserved, 99, "hot={hot}");
        assert_eq!(stock, 100);
        assert_eq!(refusals.len(), 167);
        // the unit left over cannot cover a request of three
        assert!(refusals.iter().all(|c| c == "insufficient_stock"), "hot={hot}: {refusals:?}");
    }
}
