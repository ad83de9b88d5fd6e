//! Issue 19's checkout rules for Japan: bank transfer only with an account to pay into, COD
//! fee tiers on the amount collected, delivery dates and slots, the 特定商取引法 disclosures.

use reqwest::Method;
use serde_json::json;

use super::{address, cart_call, cart_with, checkout};
use crate::inventory::stocked_variant;
use crate::support::TestApp;
use crate::support::fixtures::bank_account;

#[tokio::test]
async fn bank_transfer_is_offered_only_once_the_bank_account_is_complete() {
    let app = TestApp::spawn().await;
    let shop = app.shop().await;
    let variant = stocked_variant(&app, &shop, 10, false, None).await;
    // a new store wants bank transfer (the default) but has nowhere to be paid: not offered
    let seen = app.get("/admin/v1/store/checkout-settings", &shop.owner_token).await.expect(200);
    assert_eq!((&seen["bank_transfer_enabled"], &seen["bank_transfer_offered"]), (&json!(true), &json!(false)));
    let cart = cart_with(&app, &shop, &[(&variant, 1)]).await;
    let options = cart_call(&app, Method::GET, &shop, &cart, "/checkout-options", None).await.expect(200);
    assert_eq!(options["payment_methods"][0]["method"], "bank_transfer");
    assert_eq!(options["payment_methods"][0]["available"], false);
    assert_eq!(options["payment_methods"][0]["reason"], "this store has not set the bank account to pay into yet");
    let body = json!({ "email": "hanako@example.jp", "shipping_address": address("東京都"), "payment_method": "bank_transfer" });
    checkout(&app, &shop, &cart, body.clone(), None).await.expect_problem(422, "payment_method_unavailable");

    // turning it on without an account, or with half of one, is refused naming what is missing
    let refused = app
        .patch("/admin/v1/store/checkout-settings", &shop.owner_token, json!({ "bank_transfer_enabled": true }))
        .await
        .expect_problem(422, "bank_account_incomplete");
    assert_eq!(refused["errors"].as_array().unwrap().len(), 5, "{refused}");
    let mut half = bank_account();
    half["account_number"] = json!("");
    half["account_holder_kana"] = json!("");
    let refused = app
        .patch("/admin/v1/store/checkout-settings", &shop.owner_token, json!({ "bank_account": half }))
        .await
        .expect_problem(422, "bank_account_incomplete");
    let fields: Vec<&str> =
        refused["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["bank_account.account_number", "bank_account.account_holder_kana"]);
    // turning it off needs no account; other settings save as before
    app.patch("/admin/v1/store/checkout-settings", &shop.owner_token, json!({ "bank_transfer_enabled": false }))
        .await
        .expect(200);

    // the account set and bank transfer on: offered, and the order tells where to pay
    let seen = app
        .patch(
            "/admin/v1/store/checkout-settings",
            &shop.owner_token,
            json!({ "bank_transfer_enabled": true, "bank_account": bank_account() }),
        )
        .await
        .expect(200);
    assert_eq!(seen["bank_transfer_offered"], true);
    let options = cart_call(&app, Method::GET, &shop, &cart, "/checkout-options", None).await.expect(200);
    assert_eq!(options["payment_methods"][0]["available"], true);
    let placed = checkout(&app, &shop, &cart, body, None).await.expect(201);
    assert_eq!(placed["order"]["payment"]["bank_account"]["account_number"], "1234567");
}
