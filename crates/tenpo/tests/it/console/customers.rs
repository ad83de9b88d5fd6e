//! Customers and settings in the browser: the owner finds a customer, sees their identities,
//! addresses and orders, merges a duplicate into them; changes shipping fees, a
//! per-prefecture fee and the bank account, a bad value first (the API's message at the
//! field, nothing changed); each change seen through the API.

use serde_json::json;

use crate::checkout::tea_shop;
use crate::mall;
use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::fixtures::PASSWORD;

#[tokio::test]
async fn console_owner_finds_and_merges_customers_and_changes_settings_seen_through_the_api() {
    let app = TestApp::spawn().await;
    let tea = tea_shop(&app).await;
    let shop = &tea.shop;
    let token = &shop.owner_token;
    let first = app
        .post(
            "/admin/v1/customers",
            token,
            json!({ "email": "hanako@example.jp", "name": "山田 花子", "name_kana": "ヤマダ ハナコ" }),
        )
        .await
        .expect(201);
    let dup = app
        .post(
            "/admin/v1/customers",
            token,
            json!({ "email": "hanako.dup@example.jp", "phone": "080-9999-0000", "name": "山田 花子", "name_kana": "ヤマダ ハナコ" }),
        )
        .await
        .expect(201);
    app.post(
        "/admin/v1/customers",
        token,
        json!({ "email": "taro@example.jp", "name": "佐藤 太郎", "name_kana": "サトウ タロウ" }),
    )
    .await
    .expect(201);
    let (a, d) = (first["id"].as_str().unwrap().to_string(), dup["id"].as_str().unwrap().to_string());
    app.post(
        &format!("/admin/v1/customers/{d}/addresses"),
        token,
        json!({ "name": "山田 花子", "name_kana": "ヤマダ ハナコ", "postal_code": "060-0001", "prefecture": "北海道",
                "city": "札幌市中央区", "line1": "北1条西2-1" }),
    )
    .await
    .expect(201);
    let order = mall::order(&app, shop, &[(&tea.tea, 1)], "hanako@example.jp", "bank_transfer").await;
    let mut b = Browser::start(&app.base).await;
    assert_eq!(b.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);

    // search by kana, either width
    b.goto("/console/customers").await;
    assert_eq!(b.count("tr[data-customer]").await, 3);
    b.fill("#f-q", "ﾔﾏﾀﾞ").await;
    b.click("form.filters button[type=submit]").await;
    assert_eq!(b.count("tr[data-customer]").await, 2);
    b.screenshots("customers").await;
    b.goto(&format!("/console/customers/{a}")).await;
    assert!(b.text("section.identities").await.contains("hanako@example.jp"));
    assert_eq!(b.count("table.orders tr[data-order]").await, 1, "the customer's order");
    assert!(b.text("table.orders").await.contains(&format!("#{}", order["number"])));

    // merge the duplicate in: choosing none is refused and changes nothing
    b.fill("#merge-q", "hanako.dup").await;
    b.click("form.merge-search button[type=submit]").await;
    assert_eq!(b.count("form.merge tr[data-customer]").await, 1);
    assert_eq!(b.click("form.merge button[type=submit]").await, 422);
    assert!(b.text("form.merge [data-field=duplicate_id]").await.contains("choose"));
    app.get(&format!("/admin/v1/customers/{d}"), token).await.expect(200);
    b.check(&format!("form.merge input[value='{d}']")).await;
    assert_eq!(b.click("form.merge button[type=submit]").await, 200);
    assert!(b.text(".notice").await.contains("統合しました"));
    let merged = app.get(&format!("/admin/v1/customers/{a}"), token).await.expect(200);
    let identities: Vec<&str> =
        merged["identities"].as_array().unwrap().iter().filter_map(|i| i["value"].as_str()).collect();
    assert!(identities.contains(&"hanako.dup@example.jp") && identities.contains(&"+818099990000"), "{identities:?}");
    assert_eq!(merged["addresses"].as_array().unwrap().len(), 1, "the duplicate's address moved");
    assert!(b.text("main").await.contains("札幌市中央区"));
    assert!(b.text("section.identities").await.contains("hanako.dup@example.jp"));
    b.screenshots("customer").await;
    b.goto("/console/customers?q=%E3%83%A4%E3%83%9E%E3%83%80").await;
    assert_eq!(b.count("tr[data-customer]").await, 1, "the duplicate is gone from the list");

    // settings: shipping fees
    b.goto("/console/settings").await;
    assert_eq!(b.value("#shipping_flat_fee").await, "800");
    b.fill("#shipping_flat_fee", "900").await;
    b.fill("#free_shipping_threshold", "").await;
    assert_eq!(b.click("section.shipping button[type=submit]").await, 200);
    let seen = app.get("/admin/v1/store/checkout-settings", token).await.expect(200);
    assert_eq!(seen["shipping_flat_fee"]["amount"], 900);
    assert!(seen["free_shipping_threshold"].is_null());
    // a prefecture twice: the API's message at the row, nothing changed
    let api_says = app
        .patch(
            "/admin/v1/store/checkout-settings",
            token,
            json!({ "prefecture_fees": [{ "prefecture": 47, "fee": { "amount": 1500, "currency": "JPY" } },
                                        { "prefecture": 47, "fee": { "amount": 1600, "currency": "JPY" } }] }),
        )
        .await
        .expect(422);
    let message = api_says["errors"][0]["message"].as_str().unwrap().to_string();
    let rows = b.count("table.prefecture-fees tbody tr").await;
    assert_eq!(rows, 2 + 3, "the two saved fees and three blank rows");
    b.select("select[name='prefecture_fees[3].prefecture']", "47").await;
    b.fill("input[name='prefecture_fees[3].fee']", "1600").await;
    assert_eq!(b.click("section.prefecture-fees button[type=submit]").await, 422);
    assert_eq!(b.text("[data-field='prefecture_fees[3].prefecture']").await, message);
    let seen = app.get("/admin/v1/store/checkout-settings", token).await.expect(200);
    assert_eq!(seen["prefecture_fees"].as_array().unwrap().len(), 2);
    b.select("select[name='prefecture_fees[3].prefecture']", "13").await;
    b.fill("input[name='prefecture_fees[3].fee']", "700").await;
    assert_eq!(b.click("section.prefecture-fees button[type=submit]").await, 200);
    let seen = app.get("/admin/v1/store/checkout-settings", token).await.expect(200);
    let fees: Vec<(i64, i64)> = seen["prefecture_fees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["prefecture"]["code"].as_i64().unwrap(), f["fee"]["amount"].as_i64().unwrap()))
        .collect();
    assert!(fees.contains(&(13, 700)) && fees.contains(&(47, 1500)) && fees.len() == 3, "{fees:?}");
    // the bank account, with an account number that is no number first
    let api_says = app
        .patch(
            "/admin/v1/store/checkout-settings",
            token,
            json!({ "bank_account": { "bank_name": "テスト銀行", "branch_name": "本店", "account_type": "futsu",
                                      "account_number": "abc", "account_holder_kana": "テンポ" } }),
        )
        .await
        .expect(422);
    let field = api_says["errors"][0]["field"].as_str().unwrap().to_string();
    let message = api_says["errors"][0]["message"].as_str().unwrap().to_string();
    b.fill("[id='bank_account.account_number']", "abc").await;
    assert_eq!(b.click("section.bank button[type=submit]").await, 422);
    assert_eq!(b.text(&format!("section.bank [data-field='{field}']")).await, message);
    b.fill("[id='bank_account.account_number']", "7654321").await;
    assert_eq!(b.click("section.bank button[type=submit]").await, 200);
    let seen = app.get("/admin/v1/store/checkout-settings", token).await.expect(200);
    assert_eq!(seen["bank_account"]["account_number"], "7654321");
    b.screenshots("settings").await;
    b.close().await;
}
