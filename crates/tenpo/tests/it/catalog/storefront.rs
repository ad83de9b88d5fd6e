//! The public storefront: only active products, availability, handles, caching.

use reqwest::Method;
use serde_json::{Value, json};

use super::{active_product, yen};
use crate::support::TestApp;

#[tokio::test]
async fn only_active_products_of_the_store_appear() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let other = app.shop().await;
    let live = active_product(&app, &shop, "Live Tea", &[("LIVE", 1000, 10)]).await;
    app.post(
        "/admin/v1/products",
        &shop.owner_token,
        json!({ "title": "Draft Tea", "variants": [{ "sku": "D", "price": yen(1) }] }),
    )
    .await
    .expect(201);
    let archived = active_product(&app, &shop, "Old Tea", &[("OLD", 1000, 10)]).await;
    app.call(
        Method::POST,
        &format!("/admin/v1/products/{}/archive", archived["id"].as_str().unwrap()),
        Some(&shop.owner_token),
        None,
    )
    .await
    .expect(200);
    active_product(&app, &other, "Other Store Tea", &[("O", 1000, 10)]).await;

    let list =
        app.call(Method::GET, &format!("/store/v1/stores/{}/products", shop.handle), None, None).await.expect(200);
    let titles: Vec<&str> = list["items"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Live Tea"]);
    // by handle: the active one answers, the draft and archived ones do not
    let base = format!("/store/v1/stores/{}/products", shop.handle);
    app.call(Method::GET, &format!("{base}/{}", live["handle"].as_str().unwrap()), None, None).await.expect(200);
    app.call(Method::GET, &format!("{base}/draft-tea"), None, None).await.expect_problem(404, "product_not_found");
    app.call(Method::GET, &format!("{base}/old-tea"), None, None).await.expect_problem(404, "product_not_found");
    app.call(Method::GET, &format!("{base}/other-store-tea"), None, None)
        .await
        .expect_problem(404, "product_not_found");
    // the store is addressed by handle or id; unknown or inactive stores are 404
    app.call(Method::GET, &format!("/store/v1/stores/{}/products", shop.store_id), None, None).await.expect(200);
    app.call(Method::GET, "/store/v1/stores/no-such-store/products", None, None)
        .await
        .expect_problem(404, "store_not_found");
    app.patch("/admin/v1/store", &shop.owner_token, json!({ "status": "inactive" })).await.expect(200);
    app.call(Method::GET, &base, None, None).await.expect_problem(404, "store_not_found");
}

#[tokio::test]
async fn availability_comes_from_stock_and_holds() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    active_product(&app, &shop, "Plenty", &[("P", 100, 50)]).await;
    active_product(&app, &shop, "Few", &[("F", 100, 2)]).await;
    active_product(&app, &shop, "None", &[("N", 100, 0)]).await;
    let p = active_product(&app, &shop, "Mixed", &[("M-S", 100, 0), ("M-L", 100, 9)]).await;
    let list =
        app.call(Method::GET, &format!("/store/v1/stores/{}/products", shop.handle), None, None).await.expect(200);
    let by_title = |t: &str| list["items"].as_array().unwrap().iter().find(|p| p["title"] == t).unwrap().clone();
    assert_eq!(by_title("Plenty")["availability"], "in_stock");
    assert_eq!(by_title("Few")["availability"], "low");
    assert_eq!(by_title("None")["availability"], "sold_out");
    let mixed = by_title("Mixed");
    assert_eq!(mixed["availability"], "in_stock");
    assert_eq!(mixed["variants"][0]["availability"], "sold_out");
    assert!(mixed["variants"][0].get("available_quantity").is_none(), "numbers are hidden by default");

    // a hold counts against availability until it expires, even before any sweep
    let vid = p["variants"][1]["id"].as_str().unwrap();
    sqlx::query(&format!(
        "WITH s AS (UPDATE inventory_stocks SET reserved = 9 WHERE variant_id = '{vid}' RETURNING id, tenant_id, store_id, location_id)
         INSERT INTO carts (tenant_id, store_id, secret_hash, currency) SELECT tenant_id, store_id, '\\x00', 'JPY' FROM s"
    ))
    .execute(&app.owner)
    .await
    .unwrap();
    sqlx::query(&format!(
        "INSERT INTO inventory_reservations (tenant_id, store_id, cart_id, variant_id, location_id, stock_id, quantity, expires_at)
         SELECT s.tenant_id, s.store_id, c.id, s.variant_id, s.location_id, s.id, 9, now() + interval '10 minutes'
           FROM inventory_stocks s, carts c WHERE s.variant_id = '{vid}'"
    ))
    .execute(&app.owner)
    .await
    .unwrap();
    let mixed = app
        .call(Method::GET, &format!("/store/v1/stores/{}/products/mixed", shop.handle), None, None)
        .await
        .expect(200);
    assert_eq!(mixed["availability"], "sold_out");
    sqlx::query("UPDATE inventory_reservations SET expires_at = now() - interval '1 second'")
        .execute(&app.owner)
        .await
        .unwrap();
    let mixed = app
        .call(Method::GET, &format!("/store/v1/stores/{}/products/mixed", shop.handle), None, None)
        .await
        .expect(200);
    assert_eq!(mixed["availability"], "in_stock", "an expired hold is not held");
}

#[tokio::test]
async fn the_product_list_answers_304_to_a_matching_etag() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    active_product(&app, &shop, "Tea", &[("T", 100, 5)]).await;
    let url = app.url(&format!("/store/v1/stores/{}/products", shop.handle));
    let first = app.client.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    assert!(first.headers()["cache-control"].to_str().unwrap().contains("no-cache"));
    let again = app.client.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());
    // a change to the catalog changes the ETag
    active_product(&app, &shop, "More Tea", &[("M", 100, 5)]).await;
    let changed = app.client.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
}

#[tokio::test]
async fn the_collection_pages_by_newest_and_by_price() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    for (title, price) in [("A", 500), ("B", 300), ("C", 900), ("D", 100), ("E", 700)] {
        active_product(&app, &shop, title, &[(title, price, 1)]).await;
    }
    let all = |sort: &'static str| {
        let app = &app;
        let handle = shop.handle.clone();
        async move {
            let mut titles = Vec::new();
            let mut cursor = String::new();
            loop {
                let page = app
                    .call(
                        Method::GET,
                        &format!("/store/v1/stores/{handle}/products?sort={sort}&limit=2{cursor}"),
                        None,
                        None,
                    )
                    .await
                    .expect(200);
                titles
                    .extend(page["items"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap().to_string()));
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => return titles,
                }
            }
        }
    };
    assert_eq!(all("newest").await, ["E", "D", "C", "B", "A"]);
    assert_eq!(all("price_asc").await, ["D", "B", "A", "E", "C"]);
    assert_eq!(all("price_desc").await, ["C", "E", "A", "B", "D"]);
    app.call(Method::GET, &format!("/store/v1/stores/{}/products?sort=cheapest", shop.handle), None, None)
        .await
        .expect_problem(400, "invalid_query");
}

/// Waits until the storefront cache listens for changes (it starts with the server).
async fn cache_listening(app: &TestApp) {
    for _ in 0..250 {
        if app.call(Method::GET, "/readyz", None, None).await.expect(200)["storefront_cache"] == "listening" {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the storefront cache never listened");
}

/// Polls a storefront path until `done` holds for its body, or panics after `secs`.
async fn eventually(
    app: &TestApp,
    path: &str,
    secs: u64,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let body = app.call(Method::GET, path, None, None).await.expect(200);
        if done(&body) {
            return body;
        }
        assert!(std::time::Instant::now() < deadline, "{path} did not change in {secs}s: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn cached_answers_follow_catalog_changes_at_once_and_stock_within_a_second() {
    let app = TestApp::spawn_with(|c, o| {
        o.worker = false;
        c.http.storefront_cache_secs = 3600;
    })
    .await;
    let shop = app.shop().await;
    let p = active_product(&app, &shop, "Tea", &[("T", 100, 10)]).await;
    cache_listening(&app).await;
    let path = format!("/store/v1/stores/{}/products/tea", shop.handle);
    let list_path = format!("/store/v1/stores/{}/products", shop.handle);
    eventually(&app, &path, 5, |b| b["availability"] == "in_stock").await;
    // a stock change by any path (here straight in the database) shows within a second (the
    // cache's staleness bound for stock; 2 s leaves the test room)
    let vid = p["variants"][0]["id"].as_str().unwrap();
    sqlx::query(&format!("UPDATE inventory_stocks SET stock = 0 WHERE variant_id = '{vid}'"))
        .execute(&app.owner)
        .await
        .unwrap();
    eventually(&app, &path, 2, |b| b["availability"] == "sold_out").await;
    // so do price changes and new products
    app.patch(
        &format!("/admin/v1/products/{}/variants/{vid}", p["id"].as_str().unwrap()),
        &shop.owner_token,
        json!({ "price": yen(150) }),
    )
    .await
    .expect(200);
    eventually(&app, &path, 2, |b| b["price_min"]["amount"] == 150).await;
    active_product(&app, &shop, "More Tea", &[("M", 100, 10)]).await;
    eventually(&app, &list_path, 2, |b| b["items"].as_array().unwrap().len() == 2).await;
}

#[tokio::test]
async fn cached_answers_live_no_longer_than_their_ttl() {
    let app = TestApp::spawn_with(|c, o| {
        o.worker = false;
        c.http.storefront_cache_secs = 1;
    })
    .await;
    let shop = app.shop().await;
    active_product(&app, &shop, "Tea", &[("T", 100, 10)]).await;
    cache_listening(&app).await;
    let path = format!("/store/v1/stores/{}/products/tea", shop.handle);
    let first = eventually(&app, &path, 5, |b| b["title"] == "Tea").await;
    // a change the cache cannot hear of (no trigger on this column): served from memory...
    sqlx::query("ALTER TABLE products DISABLE TRIGGER notify_catalog").execute(&app.owner).await.unwrap();
    sqlx::query("UPDATE products SET title = 'Quiet Tea'").execute(&app.owner).await.unwrap();
    sqlx::query("ALTER TABLE products ENABLE TRIGGER notify_catalog").execute(&app.owner).await.unwrap();
    let again = app.call(Method::GET, &path, None, None).await.expect(200);
    assert_eq!(again["title"], first["title"], "served from the cache");
    // ...until its time to live passes
    eventually(&app, &path, 3, |b| b["title"] == "Quiet Tea").await;
}

#[tokio::test]
async fn a_sale_keeps_the_cached_list_and_shows_sold_out_within_a_second_with_a_new_etag() {
    let app = TestApp::spawn_with(|c, o| {
        o.worker = false;
        c.http.storefront_cache_secs = 3600;
    })
    .await;
    let shop = app.shop().await;
    let p = active_product(&app, &shop, "Last Tea", &[("LAST", 100, 1)]).await;
    cache_listening(&app).await;
    let list = app.url(&format!("/store/v1/stores/{}/products", shop.handle));
    let get = |etag: Option<String>| {
        let mut req = app.client.get(&list);
        if let Some(e) = etag {
            req = req.header("if-none-match", e);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let etag = res.headers()["etag"].to_str().unwrap().to_string();
            let body: serde_json::Value =
                if status == 200 { res.json().await.unwrap() } else { serde_json::Value::Null };
            (status, etag, body)
        }
    };
    let read_at = std::time::Instant::now();
    let (_, before, body) = get(None).await;
    assert_eq!(body["items"][0]["availability"], "low");
    // the last unit goes into a cart: a stock change through the shop's own path
    let cart = crate::inventory::new_cart(&app, &shop).await;
    let vid = p["variants"][0]["id"].as_str().unwrap();
    crate::inventory::add(&app, &shop, &cart, vid, 1, None).await.expect(201);
    // the store's cached list was not thrown away: inside the staleness bound it is the same answer
    let (status, etag, _) = get(Some(before.clone())).await;
    if read_at.elapsed() < std::time::Duration::from_millis(800) {
        assert_eq!((status, etag.as_str()), (304, before.as_str()), "a stock change dropped the cached list");
    }
    // and within the bound (1 s; 2 s leaves the test room) the list shows it, under a new ETag
    let deadline = read_at + std::time::Duration::from_secs(2);
    loop {
        let (status, etag, body) = get(Some(before.clone())).await;
        if status == 200 && body["items"][0]["availability"] == "sold_out" {
            assert_ne!(etag, before);
            assert_eq!(body["items"][0]["variants"][0]["availability"], "sold_out");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {status} {body} after 2 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn products_list_by_tag_and_type_and_the_stores_tags_come_with_counts() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let other = app.shop().await;
    let product = |title: &str, kind: &str, tags: Value, status: &str| {
        json!({ "title": title, "status": status, "product_type": kind, "tags": tags,
                "variants": [{ "sku": title, "price": yen(1000), "inventory_quantity": 5 }] })
    };
    for (title, kind, tags, status) in [
        ("Sencha", "お茶", json!(["緑茶", "静岡"]), "active"),
        ("Gyokuro", "お茶", json!(["緑茶"]), "active"),
        ("Yunomi", "器", json!(["静岡", "陶器"]), "active"),
        ("Draft", "お茶", json!(["緑茶", "下書き"]), "draft"),
    ] {
        app.post("/admin/v1/products", &shop.owner_token, product(title, kind, tags, status)).await.expect(201);
    }
    app.post("/admin/v1/products", &other.owner_token, product("Elsewhere", "お茶", json!(["緑茶"]), "active"))
        .await
        .expect(201);
    let base = format!("/store/v1/stores/{}", shop.handle);
    let titles = |v: &Value| -> Vec<String> {
        let mut t: Vec<String> =
            v["items"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap().to_string()).collect();
        t.sort();
        t
    };

    // a tag (percent-encoded Japanese), a type, both; the draft and the other store never count
    let green = app.call(Method::GET, &format!("{base}/products?tag=%E7%B7%91%E8%8C%B6"), None, None).await.expect(200);
    assert_eq!(titles(&green), ["Gyokuro", "Sencha"]);
    let ware = app.call(Method::GET, &format!("{base}/products?product_type=%E5%99%A8"), None, None).await.expect(200);
    assert_eq!(titles(&ware), ["Yunomi"]);
    let both = app
        .call(
            Method::GET,
            &format!("{base}/products?tag=%E9%9D%99%E5%B2%A1&product_type=%E3%81%8A%E8%8C%B6"),
            None,
            None,
        )
        .await
        .expect(200);
    assert_eq!(titles(&both), ["Sencha"]);
    let none = app.call(Method::GET, &format!("{base}/products?tag=nothing"), None, None).await.expect(200);
    assert!(none["items"].as_array().unwrap().is_empty());
    // pages of a tag's list follow its filter
    let first =
        app.call(Method::GET, &format!("{base}/products?tag=%E7%B7%91%E8%8C%B6&limit=1"), None, None).await.expect(200);
    let cursor = first["next_cursor"].as_str().expect("a second page").to_string();
    let second = app
        .call(Method::GET, &format!("{base}/products?tag=%E7%B7%91%E8%8C%B6&limit=1&cursor={cursor}"), None, None)
        .await
        .expect(200);
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());
    assert_ne!(first["items"][0]["title"], second["items"][0]["title"]);

    // the tags, the most used first, with an ETag
    let res = app.client.get(app.url(&format!("{base}/tags"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let tags: Value = res.json().await.unwrap();
    assert_eq!(
        tags["items"],
        json!([{ "tag": "緑茶", "product_count": 2 }, { "tag": "静岡", "product_count": 2 }, { "tag": "陶器", "product_count": 1 }])
    );
    let again = app.client.get(app.url(&format!("{base}/tags"))).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    // a product's tags changing drops the cached answer at once
    let yunomi = app.get("/admin/v1/products?limit=50", &shop.owner_token).await.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "Yunomi")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.patch(&format!("/admin/v1/products/{yunomi}"), &shop.owner_token, json!({ "tags": ["陶器"] }))
        .await
        .expect(200);
    let started = std::time::Instant::now();
    loop {
        let t = app.call(Method::GET, &format!("{base}/tags"), None, None).await.expect(200);
        if t["items"].as_array().unwrap().contains(&json!({ "tag": "静岡", "product_count": 1 })) {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the change never showed: {t}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // in the OpenAPI document beside the other storefront calls
    let spec = app.call(Method::GET, "/openapi.json", None, None).await.expect(200);
    assert!(spec["paths"]["/store/v1/stores/{store}/tags"]["get"].is_object());
    let params = spec["paths"]["/store/v1/stores/{store}/products"]["get"]["parameters"].to_string();
    assert!(params.contains("\"tag\"") && params.contains("\"product_type\""), "{params}");
}
