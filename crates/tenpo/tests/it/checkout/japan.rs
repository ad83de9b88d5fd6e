//! Issue 19's checkout rules for Japan: bank transfer only with an account to pay into, and COD
//! fee tiers on the amount collected. (The 特定商取引法 disclosures and the final confirmation
//! are tested in `disclosures.rs`.)

use reqwest::Method;
use serde_json::json;

use super::{address, cart_call, cart_with, checkout, yen};
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

/// A product of one physical variant at `price` yen, 10 in stock; answers the variant id.
async fn priced_variant(app: &TestApp, shop: &crate::support::Shop, price: i64) -> String {
    let p = app
        .post(
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": format!("Item {price}"), "status": "active",
                    "variants": [{ "sku": "ITEM", "price": yen(price), "inventory_quantity": 10 }] }),
        )
        .await
        .expect(201);
    p["variants"][0]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn cod_fee_tiers_on_the_amount_collected_follow_yamatos_table() {
    let app = TestApp::spawn().await;
    let shop = app.shop().await;
    // Yamato 宅急便コレクト's fees, tax included; no shipping fee, so the total is the goods
    let seen = app
        .patch(
            "/admin/v1/store/checkout-settings",
            &shop.owner_token,
            json!({ "cod_enabled": true, "cod_limit": yen(300_000), "cod_fee_basis": "collected",
                    "cod_fee_tiers": [{ "up_to": yen(10_000), "fee": yen(330) }, { "up_to": yen(30_000), "fee": yen(440) },
                                      { "up_to": yen(100_000), "fee": yen(660) }, { "up_to": yen(300_000), "fee": yen(1_100) }] }),
        )
        .await
        .expect(200);
    assert_eq!(seen["cod_fee_basis"], "collected");
    let cod_of = |options: &serde_json::Value| options["payment_methods"][1].clone();
    // (goods, fee, collected): each side of each boundary, hand-computed
    for (price, fee, total) in
        [(9_670, 330, 10_000), (9_671, 440, 10_111), (29_561, 660, 30_221), (298_900, 1_100, 300_000)]
    {
        let variant = priced_variant(&app, &shop, price).await;
        let cart = cart_with(&app, &shop, &[(&variant, 1)]).await;
        let options = cart_call(&app, Method::GET, &shop, &cart, "/checkout-options", None).await.expect(200);
        let cod = cod_of(&options);
        assert_eq!(
            (&cod["available"], &cod["cod_fee"], &cod["total"]),
            (&json!(true), &yen(fee), &yen(total)),
            "{price}"
        );
        if price == 9_671 {
            // placing charges what the options showed
            let body =
                json!({ "email": "hanako@example.jp", "shipping_address": address("東京都"), "payment_method": "cod" });
            let placed = checkout(&app, &shop, &cart, body, None).await.expect(201);
            assert_eq!((&placed["order"]["cod_fee"], &placed["order"]["total"]), (&yen(440), &yen(10_111)));
        }
    }
    // 298,901 + 1,100 is over the last tier: COD is not offered
    let variant = priced_variant(&app, &shop, 298_901).await;
    let cart = cart_with(&app, &shop, &[(&variant, 1)]).await;
    let options = cart_call(&app, Method::GET, &shop, &cart, "/checkout-options", None).await.expect(200);
    assert_eq!(cod_of(&options)["available"], false);
    // back on the default basis, the tier follows the total before the fee: 9,671 pays 330
    app.patch("/admin/v1/store/checkout-settings", &shop.owner_token, json!({ "cod_fee_basis": "subtotal" }))
        .await
        .expect(200);
    let variant = priced_variant(&app, &shop, 9_671).await;
    let cart = cart_with(&app, &shop, &[(&variant, 1)]).await;
    let options = cart_call(&app, Method::GET, &shop, &cart, "/checkout-options", None).await.expect(200);
    assert_eq!(cod_of(&options)["cod_fee"], yen(330));
    // a basis that is neither is refused
    app.patch("/admin/v1/store/checkout-settings", &shop.owner_token, json!({ "cod_fee_basis": "total" }))
        .await
        .expect(422);
}
