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

#[tokio::test]
async fn console_disclosures_are_refused_incomplete_with_the_apis_messages_and_cod_fee_basis_is_set() {
    let app = TestApp::spawn().await;
    let shop = app.shop().await;
    let token = &shop.owner_token;
    let public = format!("/store/v1/stores/{}/legal-disclosures", shop.handle);
    let mut b = Browser::start(&app.base).await;
    assert_eq!(b.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);
    b.goto("/console/settings").await;
    assert!(b.text("section.disclosures .disclosures-state").await.contains("下書き"));

    // two items typed and 公開 ticked: each missing item's message, as the API gives it
    let partial =
        json!({ "published": true, "disclosures": { "seller_name": "株式会社てんぽ茶舗", "phone": "03-1234-5678" } });
    let api_says = app
        .call(reqwest::Method::PUT, "/admin/v1/store/legal-disclosures", Some(token), Some(partial))
        .await
        .expect_problem(422, "validation_failed");
    let errors = api_says["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 9, "{api_says}");
    b.fill("input[name='disclosures.seller_name']", "株式会社てんぽ茶舗").await;
    b.fill("input[name='disclosures.phone']", "03-1234-5678").await;
    b.check("section.disclosures input[name=published]").await;
    assert_eq!(b.click("section.disclosures button[type=submit]").await, 422);
    assert_eq!(b.attr("section.disclosures .problem", "data-code").await.as_deref(), Some("validation_failed"));
    for e in errors {
        let field = e["field"].as_str().unwrap();
        assert_eq!(
            b.text(&format!("section.disclosures span[data-field='{field}']")).await,
            e["message"].as_str().unwrap()
        );
    }
    assert_eq!(b.count("section.disclosures span.field-error").await, 9);
    assert_eq!(b.value("input[name='disclosures.seller_name']").await, "株式会社てんぽ茶舗", "what was typed stays");
    b.screenshots("settings-disclosures-errors").await;
    let seen = app.get("/admin/v1/store/legal-disclosures", token).await.expect(200);
    assert!(seen["updated_at"].is_null(), "nothing was saved: {seen}");
    app.call(reqwest::Method::GET, &public, None, None).await.expect_problem(404, "legal_disclosures_not_published");

    // the rest filled in: published, and the storefront shows what was typed
    let full = crate::support::fixtures::disclosures("株式会社てんぽ茶舗");
    for (name, value) in full["disclosures"].as_object().unwrap() {
        let field = format!("disclosures.{name}");
        b.fill(&format!("section.disclosures [name='{field}']"), value.as_str().unwrap()).await;
    }
    assert_eq!(b.click("section.disclosures button[type=submit]").await, 200);
    assert!(b.text("section.disclosures .disclosures-state").await.contains("公開中"));
    b.screenshots("settings-disclosures").await;
    let shown = app.call(reqwest::Method::GET, &public, None, None).await.expect(200);
    for (name, value) in full["disclosures"].as_object().unwrap() {
        assert_eq!(&shown["disclosures"][name], value, "{name}");
    }

    // the COD fee basis: the carriers' way, as the API then answers it
    assert_eq!(app.get("/admin/v1/store/checkout-settings", token).await.expect(200)["cod_fee_basis"], "subtotal");
    b.select("#cod_fee_basis", "collected").await;
    assert_eq!(b.click("section.cod button[type=submit]").await, 200);
    assert_eq!(b.value("#cod_fee_basis").await, "collected");
    assert_eq!(app.get("/admin/v1/store/checkout-settings", token).await.expect(200)["cod_fee_basis"], "collected");
    b.close().await;
}
