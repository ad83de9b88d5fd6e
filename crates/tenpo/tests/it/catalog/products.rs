//! Admin catalog rules over HTTP.

use reqwest::Method;
use serde_json::json;

use super::{active_product, yen};
use crate::support::TestApp;

#[tokio::test]
async fn handles_are_unique_per_store_and_generated_from_titles() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let other = app.shop().await;
    let a =
        app.post("/admin/v1/products", &shop.owner_token, json!({ "title": "Organic Green Tea" })).await.expect(201);
    assert_eq!(a["handle"], "organic-green-tea");
    assert_eq!(a["status"], "draft");
    // the same title again gets the next free handle
    let b =
        app.post("/admin/v1/products", &shop.owner_token, json!({ "title": "Organic Green Tea" })).await.expect(201);
    assert_eq!(b["handle"], "organic-green-tea-2");
    // Japanese titles: kana are romanised; kanji alone get a short id
    let c = app
        .post("/admin/v1/products", &shop.owner_token, json!({ "title": "オーガニック緑茶 ティーバッグ" }))
        .await
        .expect(201);
    assert_eq!(c["handle"], "oganikku-tibaggu");
    let d = app.post("/admin/v1/products", &shop.owner_token, json!({ "title": "緑茶" })).await.expect(201);
    assert!(d["handle"].as_str().unwrap().starts_with("p-"), "{}", d["handle"]);
    // an explicit handle that is taken is refused
    app.post("/admin/v1/products", &shop.owner_token, json!({ "title": "x", "handle": "Organic-Green-Tea" }))
        .await
        .expect_problem(409, "handle_taken");
    let id = b["id"].as_str().unwrap();
    app.patch(&format!("/admin/v1/products/{id}"), &shop.owner_token, json!({ "handle": "organic-green-tea" }))
        .await
        .expect_problem(409, "handle_taken");
    // but another store may use it
    app.post("/admin/v1/products", &other.owner_token, json!({ "title": "x", "handle": "organic-green-tea" }))
        .await
        .expect(201);
    // and a deleted product frees its handle
    app.delete(&format!("/admin/v1/products/{}", a["id"].as_str().unwrap()), &shop.owner_token).await.expect(204);
    app.post("/admin/v1/products", &shop.owner_token, json!({ "title": "x", "handle": "organic-green-tea" }))
        .await
        .expect(201);
}

#[tokio::test]
async fn skus_are_unique_per_product_and_option_combinations_too() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let p = app
        .post(
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": "Tee", "options": ["Size", "Colour"],
                    "variants": [{ "sku": "TEE-S-RED", "option_values": ["S", "Red"], "price": yen(2000) }] }),
        )
        .await
        .expect(201);
    let id = p["id"].as_str().unwrap();
    let path = format!("/admin/v1/products/{id}/variants");
    app.post(
        &path,
        &shop.owner_token,
        json!({ "sku": "TEE-S-RED", "option_values": ["M", "Red"], "price": yen(2000) }),
    )
    .await
    .expect_problem(409, "sku_taken");
    app.post(
        &path,
        &shop.owner_token,
        json!({ "sku": "TEE-S-RED-2", "option_values": ["S", "Red"], "price": yen(2000) }),
    )
    .await
    .expect_problem(409, "variant_options_taken");
    let v = app
        .post(
            &path,
            &shop.owner_token,
            json!({ "sku": "TEE-M-RED", "option_values": ["M", "Red"], "price": yen(2000) }),
        )
        .await
        .expect(201);
    assert_eq!(v["title"], "M / Red");
    app.post(&path, &shop.owner_token, json!({ "sku": "TEE-X", "option_values": ["M"], "price": yen(2000) }))
        .await
        .expect_problem(422, "validation_failed");
    // the same SKU in another product is fine
    app.post(
        "/admin/v1/products",
        &shop.owner_token,
        json!({ "title": "Other", "variants": [{ "sku": "TEE-S-RED", "price": yen(500) }] }),
    )
    .await
    .expect(201);
    // a product without options has one variant
    let single = app
        .post(
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": "Single", "variants": [{ "sku": "ONE", "price": yen(1) }] }),
        )
        .await
        .expect(201);
    app.post(
        &format!("/admin/v1/products/{}/variants", single["id"].as_str().unwrap()),
        &shop.owner_token,
        json!({ "sku": "TWO", "price": yen(1) }),
    )
    .await
    .expect_problem(422, "options_required");
}

#[tokio::test]
async fn status_moves_only_along_legal_transitions() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let empty = app.post("/admin/v1/products", &shop.owner_token, json!({ "title": "Empty" })).await.expect(201);
    let eid = empty["id"].as_str().unwrap();
    // nothing to sell: cannot be active
    app.patch(&format!("/admin/v1/products/{eid}"), &shop.owner_token, json!({ "status": "active" }))
        .await
        .expect_problem(422, "product_not_publishable");

    let p = app
        .post(
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": "Tea", "variants": [{ "sku": "T", "price": yen(800) }] }),
        )
        .await
        .expect(201);
    let id = p["id"].as_str().unwrap();
    let patch = |status: &str| json!({ "status": status });
    let url = format!("/admin/v1/products/{id}");
    let published = app.patch(&url, &shop.owner_token, patch("active")).await.expect(200);
    assert!(published["published_at"].is_string());
    app.patch(&url, &shop.owner_token, patch("draft")).await.expect(200);
    app.patch(&url, &shop.owner_token, patch("active")).await.expect(200);
    app.call(Method::POST, &format!("{url}/archive"), Some(&shop.owner_token), None).await.expect(200);
    // archived -> active is not a legal move
    let refused =
        app.patch(&url, &shop.owner_token, patch("active")).await.expect_problem(409, "illegal_status_transition");
    assert!(refused["detail"].as_str().unwrap().contains("archived"));
    let back = app.call(Method::POST, &format!("{url}/unarchive"), Some(&shop.owner_token), None).await.expect(200);
    assert_eq!(back["status"], "draft");
    app.patch(&url, &shop.owner_token, patch("active")).await.expect(200);
    // the last active variant of an active product cannot be deleted
    let vid = p["variants"][0]["id"].as_str().unwrap();
    app.delete(&format!("{url}/variants/{vid}"), &shop.owner_token)
        .await
        .expect_problem(422, "product_not_publishable");
    // events record the moves
    let types: Vec<String> =
        sqlx::query_scalar(&format!("SELECT event_type FROM outbox_events WHERE aggregate_id = '{id}' ORDER BY id"))
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert_eq!(
        types,
        [
            "product.created",
            "product.updated",
            "product.updated",
            "product.updated",
            "product.archived",
            "product.updated",
            "product.updated"
        ]
    );
}

#[tokio::test]
async fn bulk_status_moves_what_it_can_and_reports_the_rest() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let a = active_product(&app, &shop, "A", &[("A", 100, 1)]).await;
    let b = app.post("/admin/v1/products", &shop.owner_token, json!({ "title": "B" })).await.expect(201);
    let c = active_product(&app, &shop, "C", &[("C", 100, 1)]).await;
    app.call(
        Method::POST,
        &format!("/admin/v1/products/{}/archive", c["id"].as_str().unwrap()),
        Some(&shop.owner_token),
        None,
    )
    .await
    .expect(200);
    let ids = [&a, &b, &c].map(|p| p["id"].clone());
    let r = app
        .post("/admin/v1/products/bulk-status", &shop.owner_token, json!({ "product_ids": ids, "status": "active" }))
        .await
        .expect(200);
    assert_eq!(r["updated"], json!([a["id"]]));
    let failed: Vec<&str> = r["failed"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(failed, ["product_not_publishable", "illegal_status_transition"]);
    let r = app
        .post("/admin/v1/products/bulk-status", &shop.owner_token, json!({ "product_ids": ids, "status": "archived" }))
        .await
        .expect(200);
    assert_eq!(r["updated"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn prices_are_integers_in_the_tenants_currency_and_compare_at_is_above() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let bad = |price: serde_json::Value, compare: serde_json::Value| json!({ "title": "X", "variants": [{ "sku": "X", "price": price, "compare_at_price": compare }] });
    app.post("/admin/v1/products", &shop.owner_token, bad(json!({ "amount": 1000, "currency": "USD" }), json!(null)))
        .await
        .expect_problem(422, "currency_mismatch");
    let body = app
        .post("/admin/v1/products", &shop.owner_token, bad(yen(1000), yen(1000)))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "variants[0].compare_at_price.amount");
    app.post("/admin/v1/products", &shop.owner_token, bad(yen(1000), yen(900)))
        .await
        .expect_problem(422, "validation_failed");
    app.post("/admin/v1/products", &shop.owner_token, bad(json!({ "amount": 10.5, "currency": "JPY" }), json!(null)))
        .await
        .expect_problem(422, "invalid_body");
    app.post("/admin/v1/products", &shop.owner_token, bad(json!({ "amount": 1000, "currency": "yen" }), json!(null)))
        .await
        .expect_problem(422, "currency_mismatch");
    app.post("/admin/v1/products", &shop.owner_token, bad(json!({ "amount": 1000, "currency": "円" }), json!(null)))
        .await
        .expect_problem(422, "invalid_body");
    let ok = app.post("/admin/v1/products", &shop.owner_token, bad(yen(1000), yen(1200))).await.expect(201);
    let vid = ok["variants"][0]["id"].as_str().unwrap();
    let url = format!("/admin/v1/products/{}/variants/{vid}", ok["id"].as_str().unwrap());
    // lowering the compare-at price under the price is refused; clearing it is fine
    app.patch(&url, &shop.owner_token, json!({ "compare_at_price": yen(999) }))
        .await
        .expect_problem(422, "validation_failed");
    app.patch(&url, &shop.owner_token, json!({ "price": yen(1300) })).await.expect_problem(422, "validation_failed");
    let cleared =
        app.patch(&url, &shop.owner_token, json!({ "compare_at_price": null, "price": yen(1300) })).await.expect(200);
    assert!(cleared["compare_at_price"].is_null());
    assert_eq!(cleared["price"], yen(1300));
}

#[tokio::test]
async fn another_stores_product_is_a_404_everywhere() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let a = app.shop().await;
    let b = app.shop().await;
    let p = active_product(&app, &b, "B's tea", &[("B1", 100, 5)]).await;
    let id = p["id"].as_str().unwrap();
    let vid = p["variants"][0]["id"].as_str().unwrap();
    for (method, path) in [
        (Method::GET, format!("/admin/v1/products/{id}")),
        (Method::PATCH, format!("/admin/v1/products/{id}")),
        (Method::DELETE, format!("/admin/v1/products/{id}")),
        (Method::POST, format!("/admin/v1/products/{id}/archive")),
        (Method::GET, format!("/admin/v1/products/{id}/variants/{vid}")),
        (Method::PATCH, format!("/admin/v1/products/{id}/variants/{vid}")),
        (Method::POST, format!("/admin/v1/products/{id}/variants")),
        (Method::PUT, format!("/admin/v1/products/{id}/locations")),
    ] {
        let body = match method {
            Method::PATCH => Some(json!({ "title": "mine" })),
            Method::POST if path.ends_with("variants") => Some(json!({ "sku": "Z", "price": yen(1) })),
            Method::PUT => Some(json!({ "location_ids": [] })),
            _ => None,
        };
        let answer = app.call(method.clone(), &path, Some(&a.owner_token), body).await;
        assert_eq!(answer.status.as_u16(), 404, "{method} {path}: {}", answer.body);
    }
    let r = app
        .post("/admin/v1/products/bulk-status", &a.owner_token, json!({ "product_ids": [id], "status": "archived" }))
        .await
        .expect(200);
    assert_eq!(r["failed"][0]["code"], "product_not_found");
    let list = app.get("/admin/v1/products", &a.owner_token).await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    assert_eq!(app.get(&format!("/admin/v1/products/{id}"), &b.owner_token).await.expect(200)["status"], "active");
}

#[tokio::test]
async fn the_admin_list_filters_sorts_and_pages() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    for (i, title) in ["Matcha", "Sencha", "Hojicha", "Genmaicha", "Gyokuro"].iter().enumerate() {
        let status = if i % 2 == 0 { "active" } else { "draft" };
        app.post(
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": title, "status": status, "variants": [{ "sku": format!("SKU-{title}"), "price": yen(100) }] }),
        )
        .await
        .expect(201);
    }
    let get = |q: &'static str| {
        let app = &app;
        let token = shop.owner_token.clone();
        async move { app.get(&format!("/admin/v1/products?{q}"), &token).await.expect(200) }
    };
    let titles = |v: &serde_json::Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(titles(&get("sort=title").await), ["Genmaicha", "Gyokuro", "Hojicha", "Matcha", "Sencha"]);
    assert_eq!(titles(&get("sort=-title&status=active").await), ["Matcha", "Hojicha", "Gyokuro"]);
    assert_eq!(titles(&get("q=sku-sen").await), ["Sencha"]);
    assert_eq!(titles(&get("q=CHA&sort=title&status=draft").await), ["Genmaicha", "Sencha"]);
    // pages of two, in title order, cover everything once
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/admin/v1/products?sort=title&limit=2&cursor={c}"),
            None => "/admin/v1/products?sort=title&limit=2".into(),
        };
        let page = app.get(&q, &shop.owner_token).await.expect(200);
        seen.extend(titles(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["Genmaicha", "Gyokuro", "Hojicha", "Matcha", "Sencha"]);
    // the default order, newest change first, pages too
    let first = get("limit=3").await;
    let c = first["next_cursor"].as_str().unwrap();
    let second = app.get(&format!("/admin/v1/products?limit=3&cursor={c}"), &shop.owner_token).await.expect(200);
    assert_eq!(titles(&first).len() + titles(&second).len(), 5);
    let since = app.get("/admin/v1/products?updated_since=2100-01-01T00:00:00Z", &shop.owner_token).await.expect(200);
    assert_eq!(since["items"].as_array().unwrap().len(), 0);
    app.get("/admin/v1/products?sort=price", &shop.owner_token).await.expect_problem(422, "validation_failed");
    app.get("/admin/v1/products?status=gone", &shop.owner_token).await.expect_problem(400, "invalid_query");
}

#[tokio::test]
async fn staff_may_read_the_catalog_but_not_change_it() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let (_, staff) = app.member(&shop, "staff").await;
    app.get("/admin/v1/products", &staff).await.expect(200);
    app.post("/admin/v1/products", &staff, json!({ "title": "X" })).await.expect_problem(403, "permission_denied");
}

#[tokio::test]
async fn digital_settings_apply_product_over_store() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let p = app
        .post(
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": "Guide", "variants": [{ "sku": "PDF", "fulfillment_type": "digital", "price": yen(500) }] }),
        )
        .await
        .expect(201);
    let url = format!("/admin/v1/products/{}/digital-settings", p["id"].as_str().unwrap());
    let s = app.get(&url, &shop.owner_token).await.expect(200);
    assert_eq!(s["effective"], json!({ "url_ttl_seconds": 604800, "max_downloads": null }));
    app.call(
        Method::PUT,
        "/admin/v1/store/digital-settings",
        Some(&shop.owner_token),
        Some(json!({ "default_url_ttl_seconds": 3600, "default_max_downloads": 5 })),
    )
    .await
    .expect(200);
    assert_eq!(
        app.get(&url, &shop.owner_token).await.expect(200)["effective"],
        json!({ "url_ttl_seconds": 3600, "max_downloads": 5 })
    );
    let s = app.call(Method::PUT, &url, Some(&shop.owner_token), Some(json!({ "max_downloads": 3 }))).await.expect(200);
    assert_eq!(s["effective"], json!({ "url_ttl_seconds": 3600, "max_downloads": 3 }));
    let s = app
        .call(
            Method::PUT,
            &url,
            Some(&shop.owner_token),
            Some(json!({ "max_downloads": null, "url_ttl_seconds": 120 })),
        )
        .await
        .expect(200);
    assert_eq!(s["effective"], json!({ "url_ttl_seconds": 120, "max_downloads": 5 }));
    app.call(Method::PUT, &url, Some(&shop.owner_token), Some(json!({ "max_downloads": 0 })))
        .await
        .expect_problem(422, "validation_failed");
}

#[tokio::test]
async fn a_mall_product_needs_its_vendor_and_a_single_brand_sells_as_itself() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let mall = app.shop_of_kind("mall").await;
    let vendor = app
        .post("/admin/v1/vendors", &mall.owner_token, json!({ "name": "Kyoto Tea Co.", "commission_rate_bps": 1000 }))
        .await
        .expect(201);
    app.post("/admin/v1/products", &mall.owner_token, json!({ "title": "Tea" }))
        .await
        .expect_problem(422, "validation_failed");
    let p = app
        .post("/admin/v1/products", &mall.owner_token, json!({ "title": "Tea", "vendor_id": vendor["id"] }))
        .await
        .expect(201);
    assert_eq!(p["vendor_id"], vendor["id"]);

    let single = app.shop().await;
    let p = app.post("/admin/v1/products", &single.owner_token, json!({ "title": "Tea" })).await.expect(201);
    let house: String = sqlx::query_scalar(&format!(
        "SELECT id::text FROM vendors WHERE tenant_id = '{}' AND is_house",
        single.tenant_id
    ))
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(p["vendor_id"], house.as_str());
    app.post("/admin/v1/products", &single.owner_token, json!({ "title": "Tea", "vendor_id": vendor["id"] }))
        .await
        .expect_problem(422, "validation_failed");
}

#[tokio::test]
async fn initial_stock_is_recorded_as_a_movement() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let p = active_product(&app, &shop, "Cup", &[("CUP", 1200, 7)]).await;
    let vid = p["variants"][0]["id"].as_str().unwrap();
    let (stock, reason): (i32, String) = sqlx::query_as(&format!(
        "SELECT s.stock, m.reason FROM inventory_stocks s JOIN inventory_movements m ON m.stock_id = s.id WHERE s.variant_id = '{vid}'"
    ))
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!((stock, reason.as_str()), (7, "receipt"));
}
