//! Orders in the browser: the demo-style owner signs in, confirms a bank transfer, ships with a
//! tracking number, works in bulk, and sees each change through the API; a vendor's staff see
//! their vendor's part only.

use serde_json::json;

use crate::checkout::tea_shop;
use crate::mall;
use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::fixtures::PASSWORD;

#[tokio::test]
async fn console_owner_confirms_a_bank_transfer_and_ships_an_order_seen_through_the_api() {
    let app = TestApp::spawn().await;
    let tea = tea_shop(&app).await;
    let shop = &tea.shop;
    let first = mall::order(&app, shop, &[(&tea.tea, 2)], "hanako@example.jp", "bank_transfer").await;
    let second = mall::order(&app, shop, &[(&tea.cup, 1)], "taro@example.jp", "bank_transfer").await;
    let (id, number, total) =
        (first["id"].as_str().unwrap(), first["number"].as_i64().unwrap(), first["total"]["amount"].as_i64().unwrap());
    let api_order = |id: &str| format!("/admin/v1/orders/{id}");
    let mut b = Browser::start(&app.base).await;

    // without a session, a page leads to the sign-in form
    b.goto("/console/orders").await;
    assert!(b.url().await.ends_with("/console/login"));
    // a wrong password: the API's message, no session
    assert_eq!(b.sign_in(&shop.handle, &shop.owner_email, "wrong-password").await, 401);
    assert!(b.text(".problem").await.contains("the store, sign-in name or password is wrong"));
    assert_eq!(b.value("#store").await, shop.handle, "what was typed stays");
    b.screenshots("sign-in").await;

    assert_eq!(b.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);
    assert!(b.url().await.ends_with("/console/"));
    // Japanese first
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("ja"));
    assert!(b.text("nav.main").await.contains("注文"));
    assert_eq!(b.text("[data-work=awaiting_payment] .count").await, "2");
    assert_eq!(b.text("[data-work=to_ship] .count").await, "0");
    b.screenshots("home").await;

    // the list and its filters
    b.goto("/console/orders").await;
    assert_eq!(b.count("tr[data-order]").await, 2);
    b.select("#f-status", "pending_payment").await;
    b.fill("#f-name", "ﾔﾏﾀﾞ").await; // half-width kana finds ヤマダ
    b.click("form.filters button[type=submit]").await;
    assert_eq!(b.count("tr[data-order]").await, 2);
    b.fill("#f-name", "サトウ").await;
    b.click("form.filters button[type=submit]").await;
    assert_eq!(b.count("tr[data-order]").await, 0);
    b.goto(&format!("/console/orders?number={number}")).await;
    assert_eq!(b.count("tr[data-order]").await, 1);
    b.goto("/console/orders?number=abc").await;
    assert!(b.text(".problem").await.contains("number"), "a bad filter is the API's invalid_query");
    b.goto("/console/orders").await;
    assert!(b.text(&format!("tr[data-order='{number}']")).await.contains(&format!("¥{}", group(total))));
    b.screenshots("orders").await;

    // the order's page
    b.click(&format!("a[href='/console/orders/{id}']")).await;
    assert_eq!(b.attr("h1 .status", "data-status").await.as_deref(), Some("pending_payment"));
    assert!(b.text(".totals").await.contains("8%"), "tax per rate: {}", b.text(".totals").await);
    // a received amount that is no number: the message at the field, nothing changed
    b.fill("#received", "せんえん").await;
    assert_eq!(b.click(".confirm-payment button[type=submit]").await, 422);
    assert_eq!(b.text(".confirm-payment [data-field='received.amount']").await, "must be a whole number of yen");
    assert_eq!(app.get(&api_order(id), &shop.owner_token).await.expect(200)["payment"]["status"], "pending");
    // the full amount, typed the way people do
    b.fill("#received", &format!("{}円", group(total))).await;
    assert_eq!(b.click(".confirm-payment button[type=submit]").await, 200);
    assert!(b.text(".notice").await.contains("入金を確認しました"));
    assert_eq!(b.attr("h1 .status", "data-status").await.as_deref(), Some("processing"));
    let seen = app.get(&api_order(id), &shop.owner_token).await.expect(200);
    assert_eq!(seen["payment"]["status"], "confirmed");
    assert_eq!(seen["payment"]["received"]["amount"], total);

    // shipping without a tracking number: the API's own message, next to the field
    let shipment = seen["shipments"][0]["id"].as_str().unwrap();
    let api_says = app
        .post(
            &format!("{}/shipments/{shipment}/ship", api_order(id)),
            &shop.owner_token,
            json!({ "carrier": "ヤマト運輸", "tracking_no": "" }),
        )
        .await
        .expect(422);
    let message = api_says["errors"][0]["message"].as_str().unwrap().to_string();
    assert_eq!(b.click("form.ship button[type=submit]").await, 422);
    assert_eq!(b.text("form.ship [data-field=tracking_no]").await, message);
    b.fill("form.ship input[name=tracking_no]", "1234-5678-9012").await;
    assert_eq!(b.click("form.ship button[type=submit]").await, 200);
    assert!(b.text(".notice").await.contains("発送済み"));
    let seen = app.get(&api_order(id), &shop.owner_token).await.expect(200);
    assert_eq!(seen["status"], "shipped");
    assert_eq!(seen["shipments"][0]["status"], "shipped");
    assert_eq!(seen["shipments"][0]["carrier"], "ヤマト運輸");
    assert_eq!(seen["shipments"][0]["tracking_no"], "1234-5678-9012");
    assert!(b.text("ol.timeline").await.contains("発送済み"), "the history shows the change");
    b.screenshots("order").await;
    // the list finds it by its tracking number, in the console and through the API
    b.goto("/console/orders?tracking_no=1234-5678-9012").await;
    assert_eq!(b.texts("tr[data-order] td:nth-child(2)").await, vec![format!("#{number}")]);
    let listed = app.get("/admin/v1/orders?tracking_no=1234-5678-9012", &shop.owner_token).await.expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    // the filters the console added are the API's too
    for (q, n) in [
        ("name=%EF%BE%94%EF%BE%8F%EF%BE%80%EF%BE%9E", 2),
        ("name=%E4%BD%90%E8%97%A4", 0),
        ("phone=09012345678", 2),
        ("phone=0311112222", 0),
    ] {
        let listed = app.get(&format!("/admin/v1/orders?{q}"), &shop.owner_token).await.expect(200);
        assert_eq!(listed["items"].as_array().unwrap().len(), n, "{q}");
    }

    // bulk: mark the second paid, then ship it with its tracking number
    let (id2, number2) = (second["id"].as_str().unwrap(), second["number"].as_i64().unwrap());
    b.goto("/console/orders").await;
    b.check(&format!("input[name=order][value='{id2}']")).await;
    assert_eq!(b.click("button[name=action][value=confirm]").await, 200);
    assert!(b.text(".notice").await.contains("処理しました"));
    assert_eq!(app.get(&api_order(id2), &shop.owner_token).await.expect(200)["payment"]["status"], "confirmed");
    b.check(&format!("input[name=order][value='{id2}']")).await;
    b.fill(&format!("input[name='tracking_{id2}']"), "5555-0000-1111").await;
    b.select("#bulk-carrier", "佐川急便").await;
    assert_eq!(b.click("button[name=action][value=ship]").await, 200);
    let seen = app.get(&api_order(id2), &shop.owner_token).await.expect(200);
    assert_eq!(
        (seen["status"].as_str(), seen["shipments"][0]["carrier"].as_str()),
        (Some("shipped"), Some("佐川急便"))
    );
    assert_eq!(seen["shipments"][0]["tracking_no"], "5555-0000-1111");
    assert!(b.text(&format!("tr[data-order='{number2}']")).await.contains("発送済み"));

    // English on request
    b.goto(&format!("/console/orders/{id}")).await;
    b.click("a.lang").await;
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("en"));
    assert!(b.text("h1").await.contains(&format!("Order #{number}")), "back on the same page, in English");

    // signing out ends the session itself: its token no longer works anywhere
    let cookies = b.cookies().await;
    let token = cookies.as_array().unwrap().iter().find(|c| c["name"] == "tenpo_console").unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    app.get("/admin/v1/auth/me", &token).await.expect(200);
    b.click("header form button[type=submit]").await;
    assert!(b.url().await.ends_with("/console/login"));
    app.get("/admin/v1/auth/me", &token).await.expect_problem(401, "invalid_token");
    b.close().await;
}

/// A vendor's staff in a mall see their vendor's orders only, and only their part of each.
#[tokio::test]
async fn console_vendor_staff_see_only_their_vendors_orders() {
    let app = TestApp::spawn().await;
    let shop = mall::mall(&app).await;
    let a = mall::vendor(&app, &shop, "Vendor A", 1000).await;
    let b_vendor = mall::vendor(&app, &shop, "Vendor B", 1000).await;
    let pa = mall::product(&app, &a, "A の緑茶", "A-TEA", 1000, "reduced", 10).await;
    let pb = mall::product(&app, &b_vendor, "B の急須", "B-POT", 5000, "standard", 10).await;
    let both = mall::order(&app, &shop, &[(&pa.variant, 1), (&pb.variant, 1)], "both@example.jp", "cod").await;
    let only_b = mall::order(&app, &shop, &[(&pb.variant, 2)], "b@example.jp", "cod").await;

    let mut br = Browser::start(&app.base).await;
    assert_eq!(br.sign_in(&shop.handle, &a.staff.email, PASSWORD).await, 200);
    let nav = br.text("nav.main").await;
    assert!(nav.contains("注文") && !nav.contains("顧客") && !nav.contains("プロモーション"), "nav: {nav}");
    assert_eq!(br.text("[data-work=to_ship] .count").await, "1");
    br.goto("/console/orders").await;
    let numbers = br.texts("tr[data-order] td:nth-child(2)").await;
    assert_eq!(numbers, vec![format!("#{}", both["number"])], "B's own order is not listed");
    // the vendor's part only: its line (¥1,000) and its value's share (1,000 of 6,000) of the
    // order's shipping and COD fees, ¥1,130 in all (docs/MALL.md): ¥188
    let row = br.text(&format!("tr[data-order='{}']", both["number"])).await;
    assert!(row.contains("¥1,188"), "A's part total: {row}");
    br.goto(&format!("/console/orders/{}", both["id"].as_str().unwrap())).await;
    assert_eq!(br.count("table.lines tbody tr").await, 1);
    let page = br.text("main").await;
    assert!(page.contains("A の緑茶") && !page.contains("B の急須"), "{page}");
    assert_eq!(br.count("form.cancel, section.cancel").await, 0, "canceling whole orders is the mall's");
    br.screenshots("order-vendor").await;
    // another vendor's order is no page at all
    assert_eq!(br.goto(&format!("/console/orders/{}", only_b["id"].as_str().unwrap())).await, 404);
    br.close().await;
}

fn group(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
