//! Issue 19 item 4: the registration number, and an order's invoice, receipt and delivery slip
//! (docs/JAPAN.md), over HTTP as staff and as the shopper holding the order token.

use serde_json::{Value, json};

use super::{address, cart_with, checkout, tea_shop, yen};
use crate::support::{Answer, Shop, TestApp};

/// A document for the shopper holding the order's token.
async fn shopper_document(app: &TestApp, shop: &Shop, order: &str, token: &str, rest: &str) -> Answer {
    let res = app
        .client
        .get(app.url(&format!("/store/v1/stores/{}/orders/{order}/documents/{rest}", shop.handle)))
        .header("x-order-token", token)
        .send()
        .await
        .unwrap();
    TestApp::read(res).await
}

/// The HTML of a 200 answer.
#[track_caller]
fn html(a: Answer) -> String {
    assert_eq!(a.status.as_u16(), 200, "{}", a.body);
    assert_eq!(a.content_type, "text/html; charset=utf-8");
    a.body.as_str().expect("an HTML body").to_string()
}

#[tokio::test]
async fn a_mixed_rate_invoice_shows_the_tax_per_rate_the_order_stores_and_the_registration_number() {
    let app = TestApp::spawn().await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    // the number is checked, check digit included; full-width input is stored as T + 13 digits
    let bad = app
        .patch("/admin/v1/store/settings", &shop.owner_token, json!({ "registration_number": "T7000012050003" }))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(bad["errors"][0]["field"], "registration_number", "{bad}");
    let set = app
        .patch(
            "/admin/v1/store/settings",
            &shop.owner_token,
            json!({ "registration_number": "Ｔ７０００－０１２０－５０００２" }),
        )
        .await
        .expect(200);
    assert_eq!(set["registration_number"], "T7000012050002");

    // 2 × Sencha 1,080 (8%) + 1 × Teacup 3,300 (10%) + shipping 800 (10%)
    let cart = cart_with(&app, shop, &[(&t.tea, 2), (&t.cup, 1)]).await;
    let body = json!({ "email": "hanako@example.jp", "shipping_address": address("東京都"), "payment_method": "bank_transfer" });
    let placed = checkout(&app, shop, &cart, body, None).await.expect(201);
    let order = placed["order"]["id"].as_str().unwrap().to_string();
    let token = placed["order_token"].as_str().unwrap().to_string();
    let stored = app.get(&format!("/admin/v1/orders/{order}"), &shop.owner_token).await.expect(200);
    assert_eq!(stored["total"], yen(6260));
    let tax_lines = stored["tax_lines"].as_array().unwrap();
    assert_eq!(tax_lines.len(), 2, "{stored}");

    let staff = html(app.get(&format!("/admin/v1/orders/{order}/documents/invoice"), &shop.owner_token).await);
    let shopper = html(shopper_document(&app, shop, &order, &token, "invoice").await);
    for doc in [&staff, &shopper] {
        assert!(doc.contains("請求書"), "{doc}");
        assert!(doc.contains(r#"data-registration-number="T7000012050002""#), "{doc}");
        for t in tax_lines {
            let row = format!(
                r#"data-rate="{}" data-taxable="{}" data-tax="{}""#,
                t["rate_bps"], t["taxable_amount"], t["tax_amount"]
            );
            assert!(doc.contains(&row), "{row} in {doc}");
        }
        // 8%: 2,160 with 160 tax; 10%: 3,300 + 800 with 372 tax, as the order stores them
        assert!(doc.contains("8%対象</th><td class=\"num\">¥2,160 (内消費税 ¥160)"), "{doc}");
        assert!(doc.contains("10%対象</th><td class=\"num\">¥4,100 (内消費税 ¥372)"), "{doc}");
        assert!(doc.contains("Sencha ※"), "the reduced-rate item is marked: {doc}");
        assert!(!doc.contains("Teacup ※"));
        assert!(doc.contains(r#"data-total="6260""#));
        assert!(doc.contains("山田 花子 様"), "{doc}");
        assert!(doc.contains("@page { size: A4"));
    }
    let slip = html(app.get(&format!("/admin/v1/orders/{order}/documents/delivery-slip"), &shop.owner_token).await);
    assert!(slip.contains("納品書") && slip.contains("東京都渋谷区神宮前1-2-3"), "{slip}");

    // a wrong token or another kind of document is refused
    shopper_document(&app, shop, &order, "nope", "invoice").await.expect_problem(404, "order_not_found");
    let unknown = app.get(&format!("/admin/v1/orders/{order}/documents/quote"), &shop.owner_token).await;
    assert!(matches!(unknown.status.as_u16(), 400 | 404), "{}", unknown.body);
}

#[tokio::test]
async fn the_first_receipt_fixes_its_addressee_and_later_copies_say_reissued() {
    let app = TestApp::spawn().await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    let cart = cart_with(&app, shop, &[(&t.cup, 1)]).await;
    let body = json!({ "email": "hanako@example.jp", "shipping_address": address("東京都"), "payment_method": "bank_transfer" });
    let placed = checkout(&app, shop, &cart, body, None).await.expect(201);
    let order = placed["order"]["id"].as_str().unwrap().to_string();
    let token = placed["order_token"].as_str().unwrap().to_string();
    let total = placed["order"]["total"]["amount"].as_i64().unwrap();

    // no receipt before the money arrived, and nothing is recorded
    shopper_document(&app, shop, &order, &token, "receipt?addressee=x")
        .await
        .expect_problem(409, "receipt_before_payment");
    assert_eq!(app.count("SELECT count(*) FROM order_receipts").await, 0);
    app.post(
        &format!("/admin/v1/orders/{order}/payments/confirm"),
        &shop.owner_token,
        json!({ "received": yen(total) }),
    )
    .await
    .expect(200);
    // a bad addressee is refused and records nothing
    let long = "あ".repeat(101);
    let bad = shopper_document(&app, shop, &order, &token, &format!("receipt?addressee={long}")).await;
    assert_eq!(bad.expect_problem(422, "validation_failed")["errors"][0]["field"], "addressee");
    assert_eq!(app.count("SELECT count(*) FROM order_receipts").await, 0);

    let first = html(
        shopper_document(&app, shop, &order, &token, "receipt?addressee=株式会社テンポ商事&purpose=お茶道具代").await,
    );
    assert!(first.contains("株式会社テンポ商事 様") && first.contains("但し お茶道具代 として"), "{first}");
    assert!(!first.contains("再発行"), "{first}");
    assert!(first.contains(&format!(r#"data-amount="{total}""#)));
    // a second copy asks for another addressee: it keeps the first and says 再発行
    let second =
        html(shopper_document(&app, shop, &order, &token, "receipt?addressee=別の宛名&purpose=別の但し書き").await);
    assert!(second.contains("株式会社テンポ商事 様") && second.contains("但し お茶道具代 として"), "{second}");
    assert!(second.contains("再発行") && !second.contains("別の宛名"), "{second}");
    // staff printing it get the same copy
    let staff = html(app.get(&format!("/admin/v1/orders/{order}/documents/receipt"), &shop.owner_token).await);
    assert!(staff.contains("株式会社テンポ商事 様") && staff.contains("再発行"), "{staff}");
    assert_eq!(app.count("SELECT copies::bigint FROM order_receipts").await, 3);
}

#[tokio::test]
async fn in_a_mall_each_vendor_prints_its_own_number_and_cannot_fetch_another_vendors_order() {
    use crate::mall::{mall, order, product, vendor};
    let app = TestApp::spawn().await;
    let shop = mall(&app).await;
    let a = vendor(&app, &shop, "茶の間", 1000).await;
    let b = vendor(&app, &shop, "器の店", 1000).await;
    for (v, number) in [(&a, "T7000012050002"), (&b, "T1180301018771")] {
        app.op(
            reqwest::Method::PATCH,
            &format!("/platform/v1/tenants/{}/vendors/{}", shop.tenant_id, v.id),
            Some(json!({ "registration_number": number })),
        )
        .await
        .expect(200);
    }
    let tea = product(&app, &a, "Gyokuro", "A-TEA", 2160, "reduced", 10).await;
    let cup = product(&app, &b, "Yunomi", "B-CUP", 4400, "standard", 10).await;
    let both = order(&app, &shop, &[(&tea.variant, 1), (&cup.variant, 1)], "s@example.jp", "bank_transfer").await;
    let b_only = order(&app, &shop, &[(&cup.variant, 2)], "t@example.jp", "bank_transfer").await;
    let id = |o: &Value| o["id"].as_str().unwrap().to_string();

    // the mall's staff: one page per vendor, each with its number and its part's tax
    let whole = html(app.get(&format!("/admin/v1/orders/{}/documents/invoice", id(&both)), &shop.owner_token).await);
    assert_eq!(whole.matches("<section class=\"doc\"").count(), 2, "{whole}");
    assert!(whole.contains("T7000012050002") && whole.contains("T1180301018771"), "{whole}");
    assert!(whole.contains(r#"data-rate="800" data-taxable="2160" data-tax="160""#), "{whole}");
    // A's staff: A's part only, A's number only
    let part = html(app.get(&format!("/admin/v1/orders/{}/documents/invoice", id(&both)), &a.staff.token).await);
    assert!(part.contains("T7000012050002") && part.contains("Gyokuro"), "{part}");
    assert!(!part.contains("T1180301018771") && !part.contains("Yunomi"), "{part}");
    // another vendor's order is not there for A
    for kind in ["invoice", "receipt", "delivery-slip"] {
        app.get(&format!("/admin/v1/orders/{}/documents/{kind}", id(&b_only)), &a.owner.token)
            .await
            .expect_problem(404, "order_not_found");
    }
}
