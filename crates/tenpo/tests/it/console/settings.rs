//! The settings page in the browser: bank transfer ticked without an account is refused with
//! the API's message next to each missing field and changes nothing; with the account it is
//! offered at checkout; a fee that is no amount is refused at its field.

use serde_json::json;

use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::fixtures::PASSWORD;

#[tokio::test]
async fn console_bank_transfer_without_an_account_shows_each_missing_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let shop = app.shop().await;
    let token = &shop.owner_token;
    let before = app.get("/admin/v1/store/checkout-settings", token).await.expect(200);
    assert_eq!((&before["bank_transfer_enabled"], &before["bank_transfer_offered"]), (&json!(true), &json!(false)));
    let mut b = Browser::start(&app.base).await;
    assert_eq!(b.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);
    b.goto("/console/settings").await;
    b.screenshots("settings-new-store").await;

    // ticked, no account: what the API says of the same change, field by field
    let empty = json!({ "bank_name": "", "branch_name": "", "account_type": "futsu", "account_number": "", "account_holder_kana": "" });
    let api_says = app
        .patch(
            "/admin/v1/store/checkout-settings",
            token,
            json!({ "bank_transfer_enabled": true, "bank_account": empty }),
        )
        .await
        .expect_problem(422, "bank_account_incomplete");
    let errors = api_says["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 4, "{api_says}");
    b.check("section.bank input[name=bank_transfer_enabled]").await;
    assert_eq!(b.click("section.bank button[type=submit]").await, 422);
    assert_eq!(b.attr("section.bank .problem", "data-code").await.as_deref(), Some("bank_account_incomplete"));
    for e in errors {
        let field = e["field"].as_str().unwrap();
        assert_eq!(b.text(&format!("section.bank span[data-field='{field}']")).await, e["message"].as_str().unwrap());
    }
    assert_eq!(b.count("section.bank span.field-error").await, 4);
    b.screenshots("settings-bank-errors").await;
    assert_eq!(app.get("/admin/v1/store/checkout-settings", token).await.expect(200), before, "nothing changed");

    // half an account: the rest is named
    b.fill("input[name='bank_account.bank_name']", "テスト銀行").await;
    b.fill("input[name='bank_account.branch_name']", "本店").await;
    assert_eq!(b.click("section.bank button[type=submit]").await, 422);
    let named: Vec<String> = b.texts("section.bank span.field-error").await;
    assert_eq!(named.len(), 2, "{named:?}");
    assert_eq!(b.count("section.bank span[data-field='bank_account.account_number']").await, 1);
    assert_eq!(b.count("section.bank span[data-field='bank_account.account_holder_kana']").await, 1);
    assert_eq!(b.value("input[name='bank_account.bank_name']").await, "テスト銀行", "what was typed stays");
    assert_eq!(app.get("/admin/v1/store/checkout-settings", token).await.expect(200), before);

    // the whole account: saved, and bank transfer is offered
    b.fill("input[name='bank_account.account_number']", "1234567").await;
    b.fill("input[name='bank_account.account_holder_kana']", "テンポ").await;
    assert_eq!(b.click("section.bank button[type=submit]").await, 200);
    let seen = app.get("/admin/v1/store/checkout-settings", token).await.expect(200);
    assert_eq!(seen["bank_transfer_offered"], true);
    assert_eq!(
        (seen["bank_account"]["bank_name"].as_str(), seen["bank_account"]["account_number"].as_str()),
        (Some("テスト銀行"), Some("1234567"))
    );

    // a flat fee that is no amount: refused at the field, nothing changed
    b.fill("input[name=shipping_flat_fee]", "せんえん").await;
    assert_eq!(b.click("section.shipping button[type=submit]").await, 422);
    assert_eq!(b.text("section.shipping span.field-error").await, "must be a whole number of yen");
    assert_eq!(app.get("/admin/v1/store/checkout-settings", token).await.expect(200), seen);
    b.close().await;
}
