//! Stock administration and its history.

use reqwest::Method;
use serde_json::json;

use super::{add, new_cart, stocked_variant};
use crate::support::TestApp;

#[tokio::test]
async fn adjustments_and_counts_are_recorded_with_their_reason_and_author() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let variant = stocked_variant(&app, &shop, 10, false, None).await;
    let adjust = |delta: i32, reason: &str| json!({ "variant_id": variant, "location_id": shop.location_id, "delta": delta, "reason": reason });
    let l = app.post("/admin/v1/inventory/adjustments", &shop.owner_token, adjust(5, "receipt")).await.expect(200);
    assert_eq!(l["stock"], 15);
    app.post("/admin/v1/inventory/adjustments", &shop.owner_token, adjust(-2, "damage")).await.expect(200);
    let l = app
        .call(
            Method::PUT,
            "/admin/v1/inventory/levels",
            Some(&shop.owner_token),
            Some(json!({ "variant_id": variant, "location_id": shop.location_id, "stock": 12 })),
        )
        .await
        .expect(200);
    assert_eq!(l["stock"], 12);
    // a hold makes a floor
    let cart = new_cart(&app, &shop).await;
    add(&app, &shop, &cart, &variant, 8, None).await.expect(201);
    app.call(
        Method::PUT,
        "/admin/v1/inventory/levels",
        Some(&shop.owner_token),
        Some(json!({ "variant_id": variant, "location_id": shop.location_id, "stock": 7 })),
    )
    .await
    .expect_problem(409, "stock_below_reserved");
    app.post("/admin/v1/inventory/adjustments", &shop.owner_token, adjust(-100, "correction"))
        .await
        .expect_problem(422, "negative_stock");
    app.post("/admin/v1/inventory/adjustments", &shop.owner_token, adjust(1, "theft"))
        .await
        .expect_problem(422, "invalid_body");
    // the history, newest first
    let history =
        app.get(&format!("/admin/v1/inventory/movements?variant_id={variant}"), &shop.owner_token).await.expect(200);
    let rows: Vec<(String, i64, i64, i64, String)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["reason"].as_str().unwrap().to_string(),
                m["stock_delta"].as_i64().unwrap(),
                m["reserved_delta"].as_i64().unwrap(),
                m["stock_after"].as_i64().unwrap(),
                m["actor_type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("reservation".into(), 0, 8, 12, "shopper".into()),
            ("count".into(), -1, 0, 12, "staff".into()),
            ("damage".into(), -2, 0, 13, "staff".into()),
            ("receipt".into(), 5, 0, 15, "staff".into()),
            ("receipt".into(), 10, 0, 10, "system".into()),
        ]
    );
    assert_eq!(history["items"][1]["actor_id"], shop.owner_id.as_str());
    let levels =
        app.get(&format!("/admin/v1/inventory/levels?variant_id={variant}"), &shop.owner_token).await.expect(200);
    assert_eq!(
        (
            levels["items"][0]["stock"].as_i64(),
            levels["items"][0]["reserved"].as_i64(),
            levels["items"][0]["available"].as_i64()
        ),
        (Some(12), Some(8), Some(4))
    );
    // staff may count stock; another store's variant is not there
    let (_, staff) = app.member(&shop, "staff").await;
    app.post("/admin/v1/inventory/adjustments", &staff, adjust(1, "return")).await.expect(200);
    let other = app.shop().await;
    app.post(
        "/admin/v1/inventory/adjustments",
        &other.owner_token,
        json!({ "variant_id": variant, "location_id": other.location_id, "delta": 1, "reason": "receipt" }),
    )
    .await
    .expect_problem(404, "variant_not_found");
}
