//! Tags as product lists: a shopper in Chromium follows a Japanese tag from the navigation and
//! from a product page to the tag's list (sorted like the front page); the list is cached with
//! the product list's ETag logic.

use serde_json::json;

use super::{TeaHouse, tea_house};
use crate::support::TestApp;
use crate::support::browser::Browser;

/// Tags the tea house's products: 緑茶 on the sencha and the guide, 静岡 on the sencha and the cup.
async fn tag_products(app: &TestApp, shop: &crate::support::Shop) {
    let products = app.get("/admin/v1/products?limit=50", &shop.owner_token).await.expect(200);
    for p in products["items"].as_array().unwrap() {
        let tags = match p["handle"].as_str().unwrap() {
            "sencha" => json!(["緑茶", "静岡"]),
            "yunomi" => json!(["静岡", "有田焼"]),
            _ => json!(["緑茶"]),
        };
        app.patch(
            &format!("/admin/v1/products/{}", p["id"].as_str().unwrap()),
            &shop.owner_token,
            json!({ "tags": tags }),
        )
        .await
        .expect(200);
    }
}

#[tokio::test]
async fn a_shopper_follows_a_japanese_tag_to_its_list() {
    let app = TestApp::spawn().await;
    let TeaHouse { shop, .. } = tea_house(&app).await;
    tag_products(&app, &shop).await;
    let base = format!("/shop/{}", shop.handle);
    let mut b = Browser::start(&app.base).await;

    // the front page's tag navigation, the most used first with its count
    assert_eq!(b.goto(&format!("{base}/")).await, 200);
    let nav = b.texts("nav.tags a").await;
    assert_eq!(nav[0], "すべて");
    assert!(nav.iter().any(|t| t == "緑茶 (2)"), "{nav:?}");
    assert!(nav.iter().any(|t| t == "有田焼 (1)"), "{nav:?}");
    assert_eq!(b.click("nav.tags a[data-tag='緑茶']").await, 200);
    assert!(b.url().await.ends_with(&format!("{base}/tags/%E7%B7%91%E8%8C%B6")), "{}", b.url().await);
    assert_eq!(b.text("h1").await, "タグ: 緑茶");
    assert_eq!(b.attr("nav.tags a[aria-current]", "data-tag").await.as_deref(), Some("緑茶"));
    let mut shown = b.texts("li[data-product] .title").await;
    shown.sort();
    assert_eq!(shown, ["お茶の淹れ方ガイド", "静岡の深蒸し煎茶"]);
    b.screenshots("storefront-tag").await;
    // sorted like the front page, within the tag
    assert_eq!(b.click("nav.sorts a[href$='?sort=price_asc']").await, 200);
    assert_eq!(b.attr("li[data-product]", "data-product").await.as_deref(), Some("guide"), "cheapest first");
    assert_eq!(b.text("h1").await, "タグ: 緑茶");
    assert_eq!(b.count("li[data-product]").await, 2);

    // from a product page's tag to its list
    assert_eq!(b.goto(&format!("{base}/products/yunomi")).await, 200);
    assert_eq!(b.texts(".product-tags a").await, ["静岡", "有田焼"]);
    assert_eq!(b.click(".product-tags a[href$='/tags/%E9%9D%99%E5%B2%A1']").await, 200);
    assert_eq!(b.text("h1").await, "タグ: 静岡");
    let mut shown = b.texts("li[data-product]").await.len();
    assert_eq!(shown, 2);
    // a card's tags link too
    assert_eq!(b.click("li[data-product=yunomi] .tag-links a[href$='/tags/%E6%9C%89%E7%94%B0%E7%84%BC']").await, 200);
    assert_eq!(b.text("h1").await, "タグ: 有田焼");
    shown = b.texts("li[data-product]").await.len();
    assert_eq!(shown, 1);
    b.close().await;

    // cached with an ETag like the product list; a tag change shows at once
    let url = app.url(&format!("{base}/tags/%E7%B7%91%E8%8C%B6"));
    let first = app.client.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "public, no-cache");
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let again = app.client.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let guide = app.get("/admin/v1/products?limit=50", &shop.owner_token).await.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["handle"] == "guide")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.patch(&format!("/admin/v1/products/{guide}"), &shop.owner_token, json!({ "tags": [] })).await.expect(200);
    let started = std::time::Instant::now();
    loop {
        let res = app.client.get(&url).header("if-none-match", &etag).send().await.unwrap();
        if res.status() == 200 {
            let page = res.text().await.unwrap();
            assert!(!page.contains("data-product=\"guide\""), "the untagged guide left the list");
            assert!(page.contains("data-product=\"sencha\""));
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the tag change never showed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
