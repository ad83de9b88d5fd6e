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

#[tokio::test]
async fn console_delivery_calendar_shows_the_apis_messages_at_each_field_and_then_sets_the_checkout_window() {
    use chrono::{TimeZone, Utc};
    // Friday 2026-09-18, 10:00 in Japan: then the weekend and three holidays (21, 22, 23)
    let now = kernel::jp::jst().with_ymd_and_hms(2026, 9, 18, 10, 0, 0).unwrap().with_timezone(&Utc);
    let app = TestApp::spawn_with(|c, o| {
        c.http.clock = kernel::Clock::fixed(now);
        o.worker = false;
    })
    .await;
    let t = crate::checkout::tea_shop(&app).await;
    let shop = &t.shop;
    let token = &shop.owner_token;
    let before = app.get("/admin/v1/store/checkout-settings", token).await.expect(200);
    let mut b = Browser::start(&app.base).await;
    assert_eq!(b.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);
    b.goto("/console/settings").await;

    // out of range, closed every day, an area named twice: the API's messages, field by field
    let api_says = app
        .patch(
            "/admin/v1/store/checkout-settings",
            token,
            json!({ "delivery_lead_days": 31, "delivery_cutoff_hour": 24, "delivery_window_days": 0,
                    "closed_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "delivery_extra_days": [{ "prefecture": "47", "days": 2 }, { "prefecture": "47", "days": 40 }] }),
        )
        .await
        .expect_problem(422, "validation_failed");
    let errors = api_says["errors"].as_array().unwrap();
    assert!(errors.len() >= 5, "{api_says}");
    b.fill("#delivery_lead_days", "31").await;
    b.fill("#delivery_cutoff_hour", "24").await;
    b.fill("#delivery_window_days", "0").await;
    for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        b.check(&format!("section.calendar input[name=closed_weekdays][value={day}]")).await;
    }
    b.select("select[name='delivery_extra_days[0].prefecture']", "47").await;
    b.fill("input[name='delivery_extra_days[0].days']", "2").await;
    b.select("select[name='delivery_extra_days[1].prefecture']", "47").await;
    b.fill("input[name='delivery_extra_days[1].days']", "40").await;
    assert_eq!(b.click("section.calendar button[type=submit]").await, 422);
    for e in errors {
        let field = e["field"].as_str().unwrap();
        assert_eq!(
            b.text(&format!("section.calendar span[data-field='{field}']")).await,
            e["message"].as_str().unwrap(),
            "{field}"
        );
    }
    assert_eq!(b.count("section.calendar span.field-error").await as usize, errors.len());
    assert_eq!(b.value("#delivery_lead_days").await, "31", "what was typed stays");
    b.screenshots("settings-calendar-errors").await;
    // a date that is no date: the console's message at the field
    b.fill("#closed_dates", "2026-13-01").await;
    assert_eq!(b.click("section.calendar button[type=submit]").await, 422);
    assert_eq!(b.count("section.calendar span[data-field=closed_dates]").await, 1);
    assert_eq!(app.get("/admin/v1/store/checkout-settings", token).await.expect(200), before, "nothing changed");

    // a good calendar: one business day, closed at weekends and on holidays, Okinawa two more
    b.goto("/console/settings").await;
    b.fill("#delivery_lead_days", "1").await;
    b.fill("#delivery_cutoff_hour", "12").await;
    b.fill("#delivery_window_days", "14").await;
    for day in ["sat", "sun"] {
        b.check(&format!("section.calendar input[name=closed_weekdays][value={day}]")).await;
    }
    b.check("section.calendar input[name=closed_on_holidays]").await;
    b.fill("#closed_dates", "2026-12-31\n2027-01-02").await;
    b.select("select[name='delivery_extra_days[1].prefecture']", "47").await;
    b.fill("input[name='delivery_extra_days[1].days']", "2").await;
    b.fill("input[name='delivery_extra_days[2].postal_code_prefix']", "100-21").await;
    b.fill("input[name='delivery_extra_days[2].days']", "6").await;
    assert_eq!(b.click("section.calendar button[type=submit]").await, 200);
    b.screenshots("settings-calendar").await;
    let seen = app.get("/admin/v1/store/checkout-settings", token).await.expect(200);
    assert_eq!(
        (&seen["delivery_lead_days"], &seen["delivery_cutoff_hour"], &seen["closed_weekdays"], &seen["closed_dates"]),
        (&json!(1), &json!(12), &json!(["sat", "sun"]), &json!(["2026-12-31", "2027-01-02"]))
    );
    assert_eq!(seen["delivery_extra_days"].as_array().unwrap().len(), 2, "{seen}");
    assert_eq!(b.value("input[name='delivery_extra_days[1].postal_code_prefix']").await, "10021", "as saved");
    let cart = crate::checkout::cart_with(&app, shop, &[(&t.tea, 1)]).await;
    let window = |p: &'static str| {
        let (app, cart) = (&app, &cart);
        async move {
            let rest = format!("/checkout-options?prefecture={p}");
            let o = crate::checkout::cart_call(app, reqwest::Method::GET, shop, cart, &rest, None).await.expect(200);
            o["delivery_window"].clone()
        }
    };
    let tokyo = window("東京都").await;
    assert_eq!(
        (&tokyo["ships_on"], &tokyo["earliest"], &tokyo["latest"]),
        (&json!("2026-09-24"), &json!("2026-09-25"), &json!("2026-10-08")),
        "the weekend and the holidays skipped"
    );
    let okinawa = window("沖縄県").await;
    assert!(okinawa["earliest"].as_str().unwrap() > tokyo["earliest"].as_str().unwrap(), "{okinawa}");

    // the slot preset: Sagawa's slots with their e-飛伝 codes
    b.select("#delivery_slot_preset", "sagawa").await;
    assert_eq!(b.click("form.slot-preset button[type=submit]").await, 200);
    let seen = app.get("/admin/v1/store/checkout-settings", token).await.expect(200);
    assert_eq!(seen["delivery_slots"][0]["carrier_code"], "01", "{seen}");
    assert_eq!(b.value("input[name='delivery_slots[0].carrier_code']").await, "01");
    b.close().await;
}
