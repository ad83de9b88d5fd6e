//! Issue 19 item 6: the commercial disclosures (特定商取引法に基づく表記) a store publishes, and
//! the final confirmation (最終確認画面) of a checkout, over HTTP.

use reqwest::Method;
use serde_json::{Value, json};

use super::{address, cart_call, cart_with, checkout, tea_shop, yen};
use crate::support::TestApp;
use crate::support::fixtures::disclosures;

fn fields(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap().to_string(), e["code"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn incomplete_disclosures_cannot_be_published_and_stay_off_the_storefront() {
    let app = TestApp::spawn().await;
    let shop = app.shop().await;
    let public = format!("/store/v1/stores/{}/legal-disclosures", shop.handle);
    let admin = "/admin/v1/store/legal-disclosures";
    app.call(Method::GET, &public, None, None).await.expect_problem(404, "legal_disclosures_not_published");
    let seen = app.get(admin, &shop.owner_token).await.expect(200);
    assert_eq!((&seen["published"], seen["missing"].as_array().unwrap().len()), (&json!(false), 11));

    // a draft of two items saves, is not shown, and says what is missing
    let draft = json!({ "disclosures": { "seller_name": "株式会社てんぽ茶舗", "phone": "03-1234-5678" } });
    let saved = app.call(Method::PUT, admin, Some(&shop.owner_token), Some(draft)).await.expect(200);
    assert_eq!(saved["published"], false);
    assert_eq!(saved["disclosures"]["seller_name"], "株式会社てんぽ茶舗");
    assert!(!saved["missing"].as_array().unwrap().contains(&json!("seller_name")));
    assert!(saved["missing"].as_array().unwrap().contains(&json!("returns_policy")));
    app.call(Method::GET, &public, None, None).await.expect_problem(404, "legal_disclosures_not_published");

    // publishing an incomplete set is refused naming each missing item, and changes nothing
    let mut half = disclosures("株式会社てんぽ茶舗");
    half["disclosures"]["responsible_person"] = json!("  ");
    half["disclosures"]["returns_policy"] = Value::Null;
    half["disclosures"]["phone"] = json!("12");
    let refused = app
        .call(Method::PUT, admin, Some(&shop.owner_token), Some(half))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(
        fields(&refused),
        [
            ("disclosures.phone".to_string(), "invalid".to_string()),
            ("disclosures.responsible_person".to_string(), "required".to_string()),
            ("disclosures.returns_policy".to_string(), "required".to_string()),
        ],
        "{refused}"
    );
    let returns = refused["errors"].as_array().unwrap().iter().find(|e| e["field"] == "disclosures.returns_policy");
    assert_eq!(returns.unwrap()["message"], "返品・交換・キャンセル is required to publish the disclosures");
    let seen = app.get(admin, &shop.owner_token).await.expect(200);
    assert_eq!(seen["disclosures"]["phone"], "03-1234-5678");
    assert!(seen["disclosures"]["price_note"].is_null());
    // staff without store_manage cannot change them
    let (_, staff_token) = app.member(&shop, "staff").await;
    app.call(Method::PUT, admin, Some(&staff_token), Some(disclosures("x")))
        .await
        .expect_problem(403, "permission_denied");

    // complete: published, and the storefront shows them
    let saved = app
        .call(Method::PUT, admin, Some(&shop.owner_token), Some(disclosures("株式会社てんぽ茶舗")))
        .await
        .expect(200);
    assert_eq!((&saved["published"], &saved["missing"]), (&json!(true), &json!([])));
    let shown = app.call(Method::GET, &public, None, None).await.expect(200);
    assert_eq!(shown["disclosures"]["seller_name"], "株式会社てんぽ茶舗");
    assert_eq!(shown["disclosures"]["returns_policy"], disclosures("")["disclosures"]["returns_policy"]);
    assert_eq!(shown["vendors"], json!([]));

    // taken back to a draft: off the storefront again
    let mut off = disclosures("株式会社てんぽ茶舗");
    off["published"] = json!(false);
    app.call(Method::PUT, admin, Some(&shop.owner_token), Some(off)).await.expect(200);
    app.call(Method::GET, &public, None, None).await.expect_problem(404, "legal_disclosures_not_published");
}

#[tokio::test]
async fn the_final_confirmation_shows_what_placing_the_same_form_charges() {
    let app = TestApp::spawn().await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    let cart = cart_with(&app, shop, &[(&t.tea, 2), (&t.cup, 1)]).await;
    let body = json!({ "email": "hanako@example.jp", "shipping_address": address("沖縄県"), "payment_method": "cod",
                       "delivery_slot": "am" });

    // before the store publishes its disclosures there are no terms to show
    let c = cart_call(&app, Method::POST, shop, &cart, "/confirmation", Some(body.clone())).await.expect(200);
    assert_eq!(c["terms"], json!([]));
    app.call(
        Method::PUT,
        "/admin/v1/store/legal-disclosures",
        Some(&shop.owner_token),
        Some(disclosures("てんぽ茶舗")),
    )
    .await
    .expect(200);

    let c = cart_call(&app, Method::POST, shop, &cart, "/confirmation", Some(body.clone())).await.expect(200);
    let lines: Vec<(i64, Value, Value, bool)> = c["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["quantity"].as_i64().unwrap(),
                l["unit_price"].clone(),
                l["line_total"].clone(),
                l["reduced_rate"] == true,
            )
        })
        .collect();
    assert_eq!(lines, [(2, yen(1080), yen(2160), true), (1, yen(3300), yen(3300), false)]);
    // 5,460 + Okinawa 1,500 = 6,960 before the fee: tier up to 10,000, 330
    assert_eq!(
        (&c["subtotal"], &c["shipping_fee"], &c["payment_fee"], &c["total"]),
        (&yen(5460), &yen(1500), &yen(330), &yen(7290))
    );
    assert_eq!(c["payment_method"], "cod");
    assert_eq!(c["delivery"]["slot"], json!({ "code": "am", "label": "午前中" }));
    // no date chosen: the store's delivery timing is what the shopper confirms
    assert_eq!(c["delivery"]["timing"], "ご入金確認後3営業日以内に発送します。");
    assert_eq!(c["terms"][0]["seller_name"], "てんぽ茶舗");
    assert_eq!(c["terms"][0]["returns_policy"], disclosures("")["disclosures"]["returns_policy"]);
    assert_eq!(c["terms"][0]["offer_validity"], disclosures("")["disclosures"]["offer_validity"]);
    // confirming placed nothing
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 0);

    // the form is checked as placing checks it, with the same answers
    let mut bad = body.clone();
    bad["delivery_slot"] = json!("midnight");
    bad["email"] = json!("");
    let refused = cart_call(&app, Method::POST, shop, &cart, "/confirmation", Some(bad.clone()))
        .await
        .expect_problem(422, "validation_failed");
    let placing = checkout(&app, shop, &cart, bad, None).await.expect_problem(422, "validation_failed");
    assert_eq!(refused["errors"], placing["errors"]);
    app.patch("/admin/v1/store/checkout-settings", &shop.owner_token, json!({ "cod_limit": yen(5000) }))
        .await
        .expect(200);
    let refused = cart_call(&app, Method::POST, shop, &cart, "/confirmation", Some(body.clone()))
        .await
        .expect_problem(422, "payment_method_unavailable");
    app.patch("/admin/v1/store/checkout-settings", &shop.owner_token, json!({ "cod_limit": yen(300_000) }))
        .await
        .expect(200);
    assert_eq!(refused["detail"], "the total is above this store's cash-on-delivery limit");

    // a chosen date is shown instead of the timing text
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Duration::days(3)).to_string();
    let mut dated = body.clone();
    dated["delivery_date"] = json!(tomorrow);
    let c = cart_call(&app, Method::POST, shop, &cart, "/confirmation", Some(dated.clone())).await.expect(200);
    assert_eq!((&c["delivery"]["date"], &c["delivery"]["timing"]), (&json!(tomorrow), &Value::Null));

    // placing the confirmed form charges exactly what was confirmed
    let placed = checkout(&app, shop, &cart, dated, None).await.expect(201)["order"].clone();
    for (order, confirmed) in [
        ("subtotal", "subtotal"),
        ("shipping_fee", "shipping_fee"),
        ("cod_fee", "payment_fee"),
        ("total", "total"),
        ("tax_lines", "tax_lines"),
    ] {
        assert_eq!(placed[order], c[confirmed], "{order}");
    }
    let quantities: Vec<&Value> = placed["items"].as_array().unwrap().iter().map(|i| &i["quantity"]).collect();
    assert_eq!(quantities, [&json!(2), &json!(1)]);
    // an ordered cart has nothing left to confirm
    cart_call(&app, Method::POST, shop, &cart, "/confirmation", Some(body))
        .await
        .expect_problem(409, "cart_not_active");
}

#[tokio::test]
async fn in_a_mall_each_vendor_discloses_its_own_terms() {
    let app = TestApp::spawn().await;
    let shop = crate::mall::mall(&app).await;
    let tea = crate::mall::vendor(&app, &shop, "茶の間", 1000).await;
    let pots = crate::mall::vendor(&app, &shop, "急須堂", 1000).await;
    let sencha = crate::mall::product(&app, &tea, "Sencha", "TEA-1", 1080, "reduced", 10).await;
    let kyusu = crate::mall::product(&app, &pots, "Kyusu", "POT-1", 4400, "standard", 10).await;
    app.call(
        Method::PUT,
        "/admin/v1/store/legal-disclosures",
        Some(&shop.owner_token),
        Some(disclosures("モール運営株式会社")),
    )
    .await
    .expect(200);
    let mut theirs = disclosures("茶の間合同会社");
    theirs["disclosures"]["returns_policy"] = json!("食品のため返品はお受けできません。");
    let path = format!("/admin/v1/vendors/{}/legal-disclosures", tea.id);
    // a vendor's staff read their own, and cannot change them nor read another vendor's
    app.call(Method::PUT, &path, Some(&tea.owner.token), Some(theirs.clone()))
        .await
        .expect_problem(403, "permission_denied");
    app.get(&format!("/admin/v1/vendors/{}/legal-disclosures", pots.id), &tea.owner.token)
        .await
        .expect_problem(404, "vendor_not_found");
    app.call(Method::PUT, &path, Some(&shop.owner_token), Some(theirs)).await.expect(200);
    assert_eq!(app.get(&path, &tea.staff.token).await.expect(200)["published"], true);

    let shown = app
        .call(Method::GET, &format!("/store/v1/stores/{}/legal-disclosures", shop.handle), None, None)
        .await
        .expect(200);
    assert_eq!(shown["disclosures"]["seller_name"], "モール運営株式会社");
    assert_eq!(shown["vendors"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&shown["vendors"][0]["vendor_name"], &shown["vendors"][0]["disclosures"]["seller_name"]),
        (&json!("茶の間"), &json!("茶の間合同会社"))
    );

    // the confirmation names each seller's terms: the tea vendor's own, the mall's for the other
    let cart = cart_with(&app, &shop, &[(&sencha.variant, 1), (&kyusu.variant, 1)]).await;
    let body = json!({ "email": "hanako@example.jp", "shipping_address": address("東京都"), "payment_method": "bank_transfer" });
    let c = cart_call(&app, Method::POST, &shop, &cart, "/confirmation", Some(body)).await.expect(200);
    let terms: Vec<(&Value, &Value)> =
        c["terms"].as_array().unwrap().iter().map(|t| (&t["seller_name"], &t["returns_policy"])).collect();
    assert_eq!(
        terms,
        [
            (&json!("モール運営株式会社"), &disclosures("")["disclosures"]["returns_policy"]),
            (&json!("茶の間合同会社"), &json!("食品のため返品はお受けできません。")),
        ]
    );
    assert_eq!(c["terms"][1]["vendor_id"], tea.id.as_str());
}
