//! Console sessions and CSRF over plain HTTP: what a browser would send, and what a forged
//! form would.

use crate::checkout::tea_shop;
use crate::console::{Visitor, csrf_in};
use crate::mall;
use crate::support::TestApp;
use crate::support::fixtures::PASSWORD;

#[tokio::test]
async fn console_forms_without_their_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let tea = tea_shop(&app).await;
    let shop = &tea.shop;
    let order = mall::order(&app, shop, &[(&tea.tea, 1)], "hanako@example.jp", "bank_transfer").await;
    let id = order["id"].as_str().unwrap();
    let total = order["total"]["amount"].as_i64().unwrap().to_string();
    let mut v = Visitor::new(&app);

    // no session: the sign-in page
    let home = v.get("/console").await;
    assert_eq!((home.status, home.location.as_deref()), (303, Some("/console/login")));
    // a sign-in posted without the pre-session token (a login CSRF) opens no session
    let sessions = || app.count("SELECT count(*) FROM staff_sessions");
    let before = sessions().await;
    let forged = v
        .post("/console/login", &[("store", &shop.handle), ("login", &shop.owner_email), ("password", PASSWORD)])
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("csrf_failed"));
    assert_eq!(sessions().await, before);

    let token = v.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await;
    assert_eq!(sessions().await, before + 1);
    assert!(token.starts_with("tps_"), "the staff sign-in's own token");
    let page = v.get(&format!("/console/orders/{id}")).await;
    assert_eq!(page.status, 200);
    let cookie = v.get("/console/login").await; // an aside: the form page while signed in still works
    assert_eq!(cookie.status, 200);
    let page = v.get(&format!("/console/orders/{id}")).await;
    for h in ["content-security-policy", "x-frame-options", "server-timing"] {
        assert!(page.headers.contains_key(h), "{h} on every page");
    }
    assert_eq!(page.headers["cache-control"], "no-store");
    let csrf = csrf_in(&page.body);

    // the confirmation posted without the token, or with another, changes nothing
    let path = format!("/console/orders/{id}/confirm-payment");
    for bad in [None, Some("0".repeat(64)), Some(String::new())] {
        let mut form = vec![("received", total.as_str())];
        if let Some(t) = &bad {
            form.push(("_csrf", t));
        }
        let refused = v.post(&path, &form).await;
        assert_eq!(refused.status, 403, "{bad:?}");
        assert!(refused.body.contains("csrf_failed"));
        assert_eq!(
            app.get(&format!("/admin/v1/orders/{id}"), &shop.owner_token).await.expect(200)["payment"]["status"],
            "pending"
        );
    }
    // another session's token is no good either
    let mut other = Visitor::new(&app);
    other.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await;
    let theirs = csrf_in(&other.get(&format!("/console/orders/{id}")).await.body);
    assert_ne!(theirs, csrf);
    assert_eq!(v.post(&path, &[("_csrf", &theirs), ("received", &total)]).await.status, 403);

    // with its token it goes through
    let done = v.post(&path, &[("_csrf", &csrf), ("received", &total)]).await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some(format!("/console/orders/{id}?done=confirmed").as_str()))
    );
    assert_eq!(
        app.get(&format!("/admin/v1/orders/{id}"), &shop.owner_token).await.expect(200)["payment"]["status"],
        "confirmed"
    );

    // the session cookie is the browser's alone
    let set = v.set_cookie_of_sign_in().await;
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/console"), "{set}");

    // console errors are pages, not problem+json
    let missing = v.get("/console/orders/not-an-id").await;
    assert_eq!(missing.status, 404);
    assert!(missing.headers["content-type"].to_str().unwrap().starts_with("text/html"));
}

/// The product, variant, stock and adjustment forms and the CSV import refuse a post without
/// their CSRF token, and nothing changes.
#[tokio::test]
async fn console_product_and_stock_forms_without_their_csrf_token_change_nothing() {
    let app = TestApp::spawn().await;
    let tea = tea_shop(&app).await;
    let shop = &tea.shop;
    let mut v = Visitor::new(&app);
    v.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await;
    let products = || app.count("SELECT count(*) FROM products WHERE deleted_at IS NULL");
    let movements = || app.count("SELECT count(*) FROM inventory_movements");
    let (before, moved) = (products().await, movements().await);
    let page = v.get("/console/products/new").await;
    assert_eq!(page.status, 200);
    let csrf = csrf_in(&page.body);
    let product = [
        ("title", "偽の商品"),
        ("variants[0].sku", "FAKE"),
        ("variants[0].price", "100"),
        ("variants[0].inventory_quantity", "5"),
    ];
    for bad in [None, Some("f".repeat(64))] {
        let mut form = product.to_vec();
        if let Some(t) = &bad {
            form.push(("_csrf", t));
        }
        let refused = v.post("/console/products/new", &form).await;
        assert_eq!(refused.status, 403, "{bad:?}");
        assert!(refused.body.contains("csrf_failed"));
    }
    let listed = app.get("/admin/v1/products?q=Sencha", &shop.owner_token).await.expect(200);
    let id = listed["items"][0]["id"].as_str().unwrap().to_string();
    let location = app
        .get(&format!("/admin/v1/inventory/levels?variant_id={}", tea.tea), &shop.owner_token)
        .await
        .expect(200)["items"][0]["location_id"]
        .as_str()
        .unwrap()
        .to_string();
    let stock_field = format!("stock.{}.{location}", tea.tea);
    for (path, form) in [
        (format!("/console/products/{id}"), vec![("title", "書き換え")]),
        (format!("/console/products/{id}/variants/{}", tea.tea), vec![("sku", "X"), ("price", "1")]),
        (format!("/console/products/{id}/stock"), vec![(stock_field.as_str(), "999"), ("reason", "count")]),
        (format!("/console/products/{id}/delete"), vec![]),
        (
            "/console/inventory/adjust".to_string(),
            vec![
                ("variant_id", tea.tea.as_str()),
                ("location_id", location.as_str()),
                ("delta", "5"),
                ("reason", "receipt"),
            ],
        ),
    ] {
        let refused = v.post(&path, &form).await;
        assert_eq!(refused.status, 403, "{path}");
    }
    // the CSV import (multipart) without its token
    let boundary = "XcsrfX";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.csv\"\r\nContent-Type: text/csv\r\n\r\nHandle,Title,Variant SKU,Variant Price\nfake,Fake,FAKE2,100\n\r\n--{boundary}--\r\n"
    );
    let refused = app
        .client
        .post(app.url("/console/products/import"))
        .header("cookie", format!("tenpo_console={}", v.cookies["tenpo_console"]))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    // an image and a digital file (multipart) and the download settings, without their token
    let guide = app.get("/admin/v1/products?q=Brewing", &shop.owner_token).await.expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let png = images::pixels::sample(images::pixels::Format::Png, 50, 50);
    for path in
        [format!("/console/products/{id}/images"), format!("/console/products/{guide}/variants/{}/file", tea.guide)]
    {
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&png);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let refused = app
            .client
            .post(app.url(&path))
            .header("cookie", format!("tenpo_console={}", v.cookies["tenpo_console"]))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{path}");
    }
    let refused = v.post(&format!("/console/products/{guide}/digital"), &[("max_downloads", "1")]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(app.count("SELECT count(*) FROM product_images").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM digital_assets").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM product_digital_settings").await, 0);
    assert_eq!((products().await, movements().await), (before, moved), "nothing changed");
    let seen = app.get(&format!("/admin/v1/products/{id}"), &shop.owner_token).await.expect(200);
    assert_eq!(seen["title"], "Sencha");
    // with its token the same import goes through
    let with_token = body.replacen(
        &format!("--{boundary}\r\n"),
        &format!("--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\n"),
        1,
    );
    let done = app
        .client
        .post(app.url("/console/products/import"))
        .header("cookie", format!("tenpo_console={}", v.cookies["tenpo_console"]))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(with_token)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert_eq!(products().await, before + 1);
}

#[tokio::test]
async fn console_carrier_calendar_and_vendor_disclosure_forms_without_their_csrf_token_change_nothing() {
    let app = TestApp::spawn().await;
    let tea = tea_shop(&app).await;
    let shop = &tea.shop;
    let order = mall::order(&app, shop, &[(&tea.tea, 1)], "hanako@example.jp", "cod").await;
    let (id, number) = (order["id"].as_str().unwrap(), order["number"].as_i64().unwrap());
    let mut v = Visitor::new(&app);
    v.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await;
    let csrf = csrf_in(&v.get("/console/orders").await.body);
    let settings = || app.get("/admin/v1/store/checkout-settings", &shop.owner_token);
    let before = settings().await.expect(200);

    // the label CSV: without the token no file
    let refused = v.post("/console/orders/carrier-csv", &[("format", "yamato_b2"), ("order", id)]).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("csrf_failed"));
    let done = v.post("/console/orders/carrier-csv", &[("_csrf", &csrf), ("format", "yamato_b2"), ("order", id)]).await;
    assert_eq!((done.status, done.headers["content-type"].to_str().unwrap()), (200, "text/csv; charset=shift_jis"));
    // the calendar and the slot preset
    let refused = v.post("/console/settings/calendar", &[("delivery_lead_days", "5")]).await;
    assert_eq!(refused.status, 403);
    let refused = v.post("/console/settings/slot_preset", &[("delivery_slot_preset", "sagawa")]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(settings().await.expect(200), before, "nothing changed");
    // the tracking import (multipart) without its token ships nothing
    let boundary = "XcsrfX";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\nyamato_b2\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.csv\"\r\nContent-Type: text/csv\r\n\r\nお客様管理番号,伝票番号\r\n{number},400011112222\r\n\r\n--{boundary}--\r\n"
    );
    let post = |body: String| {
        app.client
            .post(app.url("/console/orders/tracking-import"))
            .header("cookie", format!("tenpo_console={}", v.cookies["tenpo_console"]))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
    };
    assert_eq!(post(body.clone()).await.unwrap().status(), 403);
    let order_path = format!("/admin/v1/orders/{id}");
    let shipment = || app.get(&order_path, &shop.owner_token);
    assert_eq!(shipment().await.expect(200)["shipments"][0]["status"], "pending");
    let with_token = body.replacen(
        &format!("--{boundary}\r\n"),
        &format!("--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\n"),
        1,
    );
    assert_eq!(post(with_token).await.unwrap().status(), 200);
    assert_eq!(shipment().await.expect(200)["shipments"][0]["tracking_no"], "400011112222");

    // a mall vendor's disclosures
    let m = mall::mall(&app).await;
    let a = mall::vendor(&app, &m, "Vendor A", 1000).await;
    let mut mv = Visitor::new(&app);
    mv.sign_in(&m.handle, &m.owner_email, PASSWORD).await;
    let path = format!("/console/vendors/{}/disclosures", a.id);
    let page = mv.get(&path).await;
    assert_eq!(page.status, 200);
    let refused = mv.post(&path, &[("disclosures.seller_name", "偽の販売者")]).await;
    assert_eq!(refused.status, 403);
    let seen = app.get(&format!("/admin/v1/vendors/{}/legal-disclosures", a.id), &m.owner_token).await.expect(200);
    assert!(seen["updated_at"].is_null(), "nothing saved: {seen}");
    let token = csrf_in(&page.body);
    let done = mv.post(&path, &[("_csrf", &token), ("disclosures.seller_name", "A 茶園")]).await;
    assert_eq!(done.status, 303);
    let seen = app.get(&format!("/admin/v1/vendors/{}/legal-disclosures", a.id), &m.owner_token).await.expect(200);
    assert_eq!(seen["disclosures"]["seller_name"], "A 茶園");
}
