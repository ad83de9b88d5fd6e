//! The embedded index with a real Japanese catalog: bigrams and single characters, width and
//! kana folding, typos, filters and facets with exact counts, and isolation between stores.

use reqwest::Method;
use serde_json::json;

use super::{enc, find, product, search_until, titles};
use crate::support::{Shop, TestApp};

/// A mall with two vendors and a mixed Japanese and English catalog.
async fn tea_mall(app: &TestApp) -> Shop {
    let shop = app.shop_of_kind("mall").await;
    let mut vendors = Vec::new();
    for name in ["Kyoto Tea", "Shizuoka Farm"] {
        let v = app
            .post("/admin/v1/vendors", &shop.owner_token, json!({ "name": name, "commission_rate_bps": 1000 }))
            .await
            .expect(201);
        vendors.push(v["id"].as_str().unwrap().to_string());
    }
    let (kyoto, shizuoka) = (Some(vendors[0].as_str()), Some(vendors[1].as_str()));
    product(app, &shop, "オーガニック緑茶 ティーバッグ", kyoto, &[("RYOKUCHA", 1080, 10)]).await;
    product(app, &shop, "抹茶ラテ パウダー", kyoto, &[("MATCHA-S", 1620, 5), ("MATCHA-L", 2980, 0)]).await;
    product(app, &shop, "コーヒー豆 ブレンド", kyoto, &[("COFFEE", 1500, 3)]).await;
    product(app, &shop, "Organic Green Tea", shizuoka, &[("GREEN-TEA", 2400, 8)]).await;
    product(app, &shop, "グリーン スムージー", shizuoka, &[("SMOOTHIE", 580, 0)]).await;
    product(app, &shop, "Ceramic Mug", shizuoka, &[("MUG", 3200, 2)]).await;
    search_until(app, &shop.handle, "", |p| p["total"] == 6).await;
    shop
}

#[tokio::test]
async fn search_japanese_catalog_text() {
    let app = TestApp::spawn().await;
    let shop = tea_mall(&app).await;
    let h = &shop.handle;
    let q = |s: &str| format!("q={}", enc(s));

    assert_eq!(titles(&find(&app, h, &q("緑茶")).await), ["オーガニック緑茶 ティーバッグ"]);
    assert_eq!(titles(&find(&app, h, &q("ラテ")).await), ["抹茶ラテ パウダー"]);
    assert_eq!(titles(&find(&app, h, &q("green tea")).await), ["Organic Green Tea"]);
    assert_eq!(titles(&find(&app, h, &q("GREEN TEA")).await), ["Organic Green Tea"]);
    assert_eq!(titles(&find(&app, h, &q("ＧＲＥＥＮ　ＴＥＡ")).await), ["Organic Green Tea"], "full-width Latin");
    assert_eq!(titles(&find(&app, h, &q("ｸﾞﾘｰﾝ")).await), ["グリーン スムージー"], "half-width katakana");
    assert_eq!(titles(&find(&app, h, &q("ぐりーん")).await), ["グリーン スムージー"], "hiragana finds katakana");
    // one typo: 'tae' finds what 'tea' finds (the tea, and Kyoto Tea's products by vendor name)
    let tea = titles(&find(&app, h, &q("tea")).await);
    assert!(tea.contains(&"Organic Green Tea".to_string()), "{tea:?}");
    assert_eq!(titles(&find(&app, h, &q("tae")).await), tea, "one typo");
    assert_eq!(titles(&find(&app, h, &q("orgnaic gren")).await), ["Organic Green Tea"], "typos in two words");
    assert_eq!(titles(&find(&app, h, &q("orga")).await), ["Organic Green Tea"], "prefix of the last word");
    // one character: every product with 茶, and not the coffee
    assert_eq!(titles(&find(&app, h, &q("茶")).await), ["オーガニック緑茶 ティーバッグ", "抹茶ラテ パウダー"]);
    // several words: all must match
    assert_eq!(titles(&find(&app, h, &q("緑茶 ティーバッグ")).await), ["オーガニック緑茶 ティーバッグ"]);
    assert!(titles(&find(&app, h, &q("緑茶 mug")).await).is_empty());
    // SKUs and option values are searchable too
    assert_eq!(titles(&find(&app, h, &q("matcha-l")).await), ["抹茶ラテ パウダー"]);

    // the answer has the product list's shape, with availability
    let page = find(&app, h, &q("抹茶")).await;
    let p = &page["items"][0];
    assert_eq!(p["price_min"]["amount"], 1620);
    assert_eq!(p["price_max"]["amount"], 2980);
    assert_eq!(p["availability"], "low");
    assert_eq!(p["vendor"], "Kyoto Tea");
    assert_eq!(p["variants"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn search_filters_facets_sort_and_pages() {
    let app = TestApp::spawn().await;
    let shop = tea_mall(&app).await;
    let h = &shop.handle;

    // price filter on the lowest price, bounds included: 1080, 1500, 1620
    let page = find(&app, h, "price_min=1080&price_max=2000").await;
    assert_eq!(page["total"], 3);
    assert_eq!(titles(&page), ["オーガニック緑茶 ティーバッグ", "コーヒー豆 ブレンド", "抹茶ラテ パウダー"]);

    // vendor facet over every match, and the vendor filter
    let all = find(&app, h, "").await;
    assert_eq!(all["facets"]["vendor"], json!({ "Kyoto Tea": 3, "Shizuoka Farm": 3 }));
    assert_eq!(all["facets"]["options"]["Size"], json!({ "MATCHA-S": 1, "MATCHA-L": 1 }));
    let kyoto = find(&app, h, &format!("vendor={}", enc("Kyoto Tea"))).await;
    assert_eq!(kyoto["total"], 3);
    assert_eq!(kyoto["facets"]["vendor"], json!({ "Kyoto Tea": 3 }));
    let tea_facets = find(&app, h, &format!("q={}", enc("茶"))).await;
    assert_eq!(tea_facets["facets"]["vendor"], json!({ "Kyoto Tea": 2 }));
    let sized = find(&app, h, &format!("option={}", enc("Size:MATCHA-L"))).await;
    assert_eq!(titles(&sized), ["抹茶ラテ パウダー"]);

    // in stock: the smoothie has none
    let in_stock = find(&app, h, "in_stock=true").await;
    assert_eq!(in_stock["total"], 5);
    assert_eq!(titles(&find(&app, h, "in_stock=false").await), ["グリーン スムージー"]);

    // sort by price, both ways
    let prices = |p: &serde_json::Value| -> Vec<i64> {
        p["items"].as_array().unwrap().iter().map(|i| i["price_min"]["amount"].as_i64().unwrap()).collect()
    };
    assert_eq!(prices(&find(&app, h, "sort=price_asc").await), [580, 1080, 1500, 1620, 2400, 3200]);
    assert_eq!(prices(&find(&app, h, "sort=price_desc").await), [3200, 2400, 1620, 1500, 1080, 580]);
    // newest first by default: the mug was published last
    assert_eq!(find(&app, h, "").await["items"][0]["title"], "Ceramic Mug");

    // cursor pages: every product once
    let mut seen = Vec::new();
    let mut query = "limit=4&sort=price_asc".to_string();
    loop {
        let page = find(&app, h, &query).await;
        seen.extend(prices(&page));
        match page["next_cursor"].as_str() {
            Some(c) => query = format!("limit=4&sort=price_asc&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, [580, 1080, 1500, 1620, 2400, 3200]);
    // a cursor belongs to its query
    let first = find(&app, h, "limit=1&sort=price_asc").await;
    let c = first["next_cursor"].as_str().unwrap();
    app.call(Method::GET, &format!("/store/v1/stores/{h}/search?limit=1&sort=price_desc&cursor={c}"), None, None)
        .await
        .expect_problem(400, "invalid_cursor");
}

#[tokio::test]
async fn search_never_shows_another_store() {
    let app = TestApp::spawn().await;
    let a = app.shop().await;
    let b = app.shop().await;
    // a second store of A's tenant
    let a2 = app.store_in(&a.tenant_id, &format!("{}-two", a.handle)).await;
    product(&app, &a, "Organic Green Tea", None, &[("A", 1000, 1)]).await;
    product(&app, &b, "Organic Green Tea B", None, &[("B", 1000, 1)]).await;
    product(&app, &a2, "Organic Green Tea A2", None, &[("A2", 1000, 1)]).await;
    for (shop, title) in [(&a, "Organic Green Tea"), (&b, "Organic Green Tea B"), (&a2, "Organic Green Tea A2")] {
        let page = search_until(&app, &shop.handle, "q=green+tea", |p| p["total"] == 1).await;
        assert_eq!(titles(&page), [title]);
        let all = find(&app, &shop.handle, "").await;
        assert_eq!(titles(&all), [title]);
        assert_eq!(all["facets"]["vendor"].as_object().unwrap().len(), 1);
    }
    // by id too, and an unknown store is a 404
    assert_eq!(titles(&find(&app, &b.store_id, "q=tea").await), ["Organic Green Tea B"]);
    app.call(Method::GET, "/store/v1/stores/no-such-store/search?q=tea", None, None)
        .await
        .expect_problem(404, "store_not_found");
}

#[tokio::test]
async fn search_bad_input_is_a_4xx_problem() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let base = format!("/store/v1/stores/{}/search", shop.handle);
    for (q, status, code) in [
        ("limit=abc", 400, "invalid_query"),
        ("limit=0", 400, "invalid_limit"),
        ("sort=cheapest", 400, "invalid_query"),
        ("price_min=abc", 400, "invalid_query"),
        ("in_stock=maybe", 400, "invalid_query"),
        ("cursor=%25%25%25", 400, "invalid_cursor"),
        ("price_min=-1", 422, "validation_failed"),
        ("price_min=500&price_max=100", 422, "validation_failed"),
        ("option=M", 422, "validation_failed"),
    ] {
        let a = app.call(Method::GET, &format!("{base}?{q}"), None, None).await;
        assert_eq!(a.status.as_u16(), status, "{q}: {}", a.body);
        assert_eq!(a.content_type, "application/problem+json", "{q}");
        assert_eq!(a.body["code"], code, "{q}: {}", a.body);
    }
    let long = "茶".repeat(201);
    let a = app.call(Method::GET, &format!("{base}?q={}", super::enc(&long)), None, None).await;
    assert_eq!(a.status.as_u16(), 422, "{}", a.body);
    // an empty store answers an empty page
    let page = find(&app, &shop.handle, "q=tea").await;
    assert_eq!(page["total"], 0);
    assert!(page["next_cursor"].is_null());
}

/// Polls `GET .../search?{query}` until `done` holds, or panics after `secs`.
async fn within(app: &TestApp, store: &str, query: &str, secs: u64, done: impl Fn(&serde_json::Value) -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let page = find(app, store, query).await;
        if done(&page) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "search {query:?} did not change in {secs}s: {page}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn search_results_come_from_the_read_cache_and_show_stock_within_a_second() {
    let app = TestApp::spawn_with(|c, _| c.http.storefront_cache_secs = 3600).await;
    let shop = app.shop().await;
    let tea = product(&app, &shop, "Gyokuro Tea", None, &[("GYO", 3000, 50)]).await;
    search_until(&app, &shop.handle, "q=gyokuro", |p| p["total"] == 1).await;
    for _ in 0..250 {
        if app.call(Method::GET, "/readyz", None, None).await.expect(200)["storefront_cache"] == "listening" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let first = find(&app, &shop.handle, "q=gyokuro").await;
    assert_eq!(first["items"][0]["availability"], "in_stock");
    // a change the cache cannot hear of (no trigger): the product shown comes from memory...
    sqlx::query("ALTER TABLE products DISABLE TRIGGER notify_catalog").execute(&app.owner).await.unwrap();
    sqlx::query("UPDATE products SET description = 'quietly changed'").execute(&app.owner).await.unwrap();
    sqlx::query("ALTER TABLE products ENABLE TRIGGER notify_catalog").execute(&app.owner).await.unwrap();
    let again = find(&app, &shop.handle, "q=gyokuro").await;
    assert_eq!(again["items"][0]["description"], first["items"][0]["description"], "served from the cache");
    // ...for at most a second, like every answer that shows stock
    within(&app, &shop.handle, "q=gyokuro", 3, |p| p["items"][0]["description"] == "quietly changed").await;
    // a stock change by any path shows within a second
    let vid = tea["variants"][0]["id"].as_str().unwrap();
    sqlx::query(&format!("UPDATE inventory_stocks SET stock = 0 WHERE variant_id = '{vid}'"))
        .execute(&app.owner)
        .await
        .unwrap();
    within(&app, &shop.handle, "q=gyokuro", 2, |p| p["items"][0]["availability"] == "sold_out").await;
    // a catalog change at once (the store's cached pieces are dropped when it is heard)
    let id = tea["id"].as_str().unwrap();
    app.patch(
        &format!("/admin/v1/products/{id}/variants/{vid}"),
        &shop.owner_token,
        json!({ "price": super::yen(2500) }),
    )
    .await
    .expect(200);
    within(&app, &shop.handle, "q=gyokuro", 2, |p| p["items"][0]["price_min"]["amount"] == 2500).await;
    // and an archived product leaves the results before the index knows
    app.call(Method::POST, &format!("/admin/v1/products/{id}/archive"), Some(&shop.owner_token), None)
        .await
        .expect(200);
    within(&app, &shop.handle, "q=gyokuro", 2, |p| p["items"].as_array().unwrap().is_empty()).await;
}
