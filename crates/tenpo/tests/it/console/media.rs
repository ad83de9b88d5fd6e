//! A product's images, SEO texts and a digital variant's file in the browser: bad input first
//! each time (the API's message at the field, nothing changed), then the change, each seen
//! through the API; the image's rendition shown once the worker has made it.

use images::pixels::{self, Format};
use serde_json::json;

use crate::catalog::images::wait_ready;
use crate::checkout::tea_shop;
use crate::support::browser::Browser;
use crate::support::fixtures::PASSWORD;

fn scratch(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into()))
        .join(format!("console-media-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test]
async fn console_owner_manages_a_products_images_seo_texts_and_digital_file_seen_through_the_api() {
    let app = TestApp::spawn().await;
    let tea = tea_shop(&app).await;
    let shop = &tea.shop;
    let token = &shop.owner_token;
    let found = app.get("/admin/v1/products?q=Sencha", token).await.expect(200);
    let pid = found["items"][0]["id"].as_str().unwrap().to_string();
    let images = || app.count("SELECT count(*) FROM product_images");
    let mut b = Browser::start(&app.base).await;
    assert_eq!(b.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);
    b.goto(&format!("/console/products/{pid}")).await;

    // SEO texts: one too long is the API's message at the field, and nothing is saved
    let api_says = app
        .patch(&format!("/admin/v1/products/{pid}"), token, json!({ "seo_title": "あ".repeat(256) }))
        .await
        .expect(422);
    b.fill("#seo_title", &"あ".repeat(256)).await;
    assert_eq!(b.click("form.product button[type=submit]").await, 422);
    assert_eq!(b.text("form.product [data-field=seo_title]").await, api_says["errors"][0]["message"].as_str().unwrap());
    let seen = app.get(&format!("/admin/v1/products/{pid}"), token).await.expect(200);
    assert_eq!((seen["seo_title"].clone(), seen["title"].as_str()), (json!(null), Some("Sencha")));
    b.fill("#seo_title", "静岡の深蒸し煎茶").await;
    b.fill("#seo_description", "一番茶だけを使った煎茶です。").await;
    assert_eq!(b.click("form.product button[type=submit]").await, 200);
    let seen = app.get(&format!("/admin/v1/products/{pid}"), token).await.expect(200);
    assert_eq!(
        (seen["seo_title"].as_str(), seen["seo_description"].as_str()),
        (Some("静岡の深蒸し煎茶"), Some("一番茶だけを使った煎茶です。"))
    );
    assert_eq!(b.value("#seo_title").await, "静岡の深蒸し煎茶", "the form shows what is stored");

    // an SVG named like a photo is refused by its content, at the file input; nothing stored
    let svg = scratch("photo.png", b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>");
    b.upload("#image-file", &svg).await;
    b.fill("#image-alt", "正面").await;
    assert_eq!(b.click("form.add-image button[type=submit]").await, 422);
    assert!(b.attr("form.add-image [data-field=file]", "data-field").await.is_some());
    assert_eq!(b.attr(".problem", "data-code").await.as_deref(), Some("image_type_refused"));
    assert_eq!(b.value("#image-alt").await, "正面", "what was typed stays");
    assert_eq!(images().await, 0);
    // a position that is no number: the console's field error, nothing stored
    let jpeg = scratch("front.jpg", &pixels::sample(Format::Jpeg, 900, 600));
    b.upload("#image-file", &jpeg).await;
    b.fill("#image-position", "いち").await;
    assert_eq!(b.click("form.add-image button[type=submit]").await, 422);
    assert_eq!(b.text("form.add-image [data-field=position]").await, "must be a whole number");
    assert_eq!(images().await, 0);

    // a JPEG, then a PNG put first
    b.upload("#image-file", &jpeg).await;
    b.fill("#image-position", "").await;
    assert_eq!(b.click("form.add-image button[type=submit]").await, 200);
    assert!(b.text(".notice").await.contains("画像を追加しました"));
    let png = scratch("side.png", &pixels::sample(Format::Png, 400, 400));
    b.upload("#image-file", &png).await;
    b.fill("#image-alt", "横から").await;
    b.fill("#image-position", "1").await;
    assert_eq!(b.click("form.add-image button[type=submit]").await, 200);
    let list = wait_ready(&app, shop, &pid).await;
    let order: Vec<(&str, &str)> =
        list.iter().map(|i| (i["alt"].as_str().unwrap(), i["content_type"].as_str().unwrap())).collect();
    assert_eq!(order, vec![("横から", "image/png"), ("正面", "image/jpeg")]);
    let (side, front) = (list[0]["id"].as_str().unwrap().to_string(), list[1]["id"].as_str().unwrap().to_string());
    // the page shows each image's smallest rendition, in order
    b.goto(&format!("/console/products/{pid}")).await;
    let src = b.attr(&format!("li[data-image='{front}'] img.thumb"), "src").await.unwrap();
    assert_eq!(src, list[1]["renditions"][0]["url"].as_str().unwrap());
    assert!(src.ends_with("/w200.jpg"), "{src}");
    let (status, bytes) = {
        let res = app.client.get(app.url(&src)).send().await.unwrap();
        (res.status().as_u16(), res.bytes().await.unwrap())
    };
    assert_eq!(status, 200);
    assert_eq!(pixels::probe(&bytes).unwrap().width, 200);
    assert_eq!(b.attr(&format!("li[data-image='{front}']"), "data-status").await.as_deref(), Some("ready"));

    // alt text too long: the API's message at that image's field, nothing changed
    let api_says = app
        .patch(&format!("/admin/v1/products/{pid}/images/{front}"), token, json!({ "alt": "x".repeat(513) }))
        .await
        .expect(422);
    let front_form = format!("li[data-image='{front}'] form.image");
    b.fill(&format!("{front_form} input[name=alt]"), &"x".repeat(513)).await;
    assert_eq!(b.click(&format!("{front_form} button[type=submit]")).await, 422);
    assert_eq!(
        b.text(&format!("{front_form} [data-field=alt]")).await,
        api_says["errors"][0]["message"].as_str().unwrap()
    );
    // the front becomes the main image with new alt text
    b.fill(&format!("{front_form} input[name=alt]"), "正面のパッケージ").await;
    b.fill(&format!("{front_form} input[name=position]"), "1").await;
    assert_eq!(b.click(&format!("{front_form} button[type=submit]")).await, 200);
    let list = app.get(&format!("/admin/v1/products/{pid}/images"), token).await.expect(200);
    assert_eq!((list[0]["id"].as_str(), list[0]["alt"].as_str()), (Some(front.as_str()), Some("正面のパッケージ")));
    // the variant shows the side image
    b.select("section[data-sku=TEA] select[name=image_id]", &side).await;
    assert_eq!(b.click("section[data-sku=TEA] form.variant button[type=submit]").await, 200);
    let v = app.get(&format!("/admin/v1/products/{pid}/variants/{}", tea.tea), token).await.expect(200);
    assert_eq!(v["image_id"].as_str(), Some(side.as_str()));
    b.screenshots("product-images").await;
    // deleting it: gone, and the variant shows none
    assert_eq!(b.click(&format!("li[data-image='{side}'] form.delete-image button[type=submit]")).await, 200);
    let list = app.get(&format!("/admin/v1/products/{pid}/images"), token).await.expect(200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let v = app.get(&format!("/admin/v1/products/{pid}/variants/{}", tea.tea), token).await.expect(200);
    assert_eq!(v["image_id"], json!(null));
    let shop_sees = app.client.get(app.url(&format!("/store/v1/stores/{}/products/sencha", shop.handle))).send().await;
    let shop_sees: serde_json::Value = shop_sees.unwrap().json().await.unwrap();
    assert_eq!(shop_sees["images"][0]["alt"], "正面のパッケージ");
    assert_eq!(shop_sees["seo_title"], "静岡の深蒸し煎茶");

    // the digital guide: its file, then a replacement, the download period, then no file
    let found = app.get("/admin/v1/products?q=PDF", token).await.expect(200);
    let gid = found["items"][0]["id"].as_str().unwrap().to_string();
    let asset = format!("/admin/v1/products/{gid}/variants/{}/asset", tea.guide);
    b.goto(&format!("/console/products/{gid}")).await;
    assert!(b.text(".digital-file").await.contains("未登録"));
    assert_eq!(b.text("[data-effective=url_ttl_seconds]").await, "7日", "the store's default");
    assert_eq!(b.text("[data-effective=max_downloads]").await, "無制限");
    assert_eq!(b.click(".digital-file form.upload-file button[type=submit]").await, 422, "no file chosen");
    assert_eq!(b.text(".digital-file [data-field=file]").await, "choose a file");
    app.get(&asset, token).await.expect_problem(404, "asset_not_found");
    let pdf = scratch("抹茶の淹れ方.pdf", b"%PDF-1.4 first edition");
    b.upload(".digital-file input[type=file]", &pdf).await;
    assert_eq!(b.click(".digital-file form.upload-file button[type=submit]").await, 200);
    assert!(b.text(".notice").await.contains("ファイルを登録しました"));
    let first = app.get(&asset, token).await.expect(200);
    assert_eq!(
        (first["filename"].as_str(), first["content_type"].as_str(), first["size_bytes"].as_i64()),
        (Some("抹茶の淹れ方.pdf"), Some("application/pdf"), Some(22))
    );
    assert_eq!(b.text(".digital-file strong.filename").await, "抹茶の淹れ方.pdf");
    let second = scratch("抹茶の淹れ方.pdf", b"%PDF-1.4 second edition, longer");
    b.upload(".digital-file input[type=file]", &second).await;
    assert_eq!(b.click(".digital-file form.upload-file button[type=submit]").await, 200);
    let replaced = app.get(&asset, token).await.expect(200);
    assert_ne!(replaced["id"], first["id"]);
    assert_eq!(replaced["size_bytes"], 31);

    // the download period: too short is the API's message at the field, nothing changed
    let settings = format!("/admin/v1/products/{gid}/digital-settings");
    let api_says = app
        .call(reqwest::Method::PUT, &settings, Some(token), Some(json!({ "url_ttl_seconds": 30 })))
        .await
        .expect(422);
    b.fill("#url_ttl_seconds", "30").await;
    assert_eq!(b.click("form.digital button[type=submit]").await, 422);
    assert_eq!(
        b.text("form.digital [data-field=url_ttl_seconds]").await,
        api_says["errors"][0]["message"].as_str().unwrap()
    );
    assert_eq!(app.get(&settings, token).await.expect(200)["url_ttl_seconds"], json!(null));
    b.fill("#url_ttl_seconds", "259200").await;
    b.fill("#max_downloads", "3").await;
    assert_eq!(b.click("form.digital button[type=submit]").await, 200);
    let seen = app.get(&settings, token).await.expect(200);
    assert_eq!((seen["url_ttl_seconds"].as_i64(), seen["max_downloads"].as_i64()), (Some(259_200), Some(3)));
    assert_eq!(b.text("[data-effective=url_ttl_seconds]").await, "3日");
    assert_eq!(b.text("[data-effective=max_downloads]").await, "3回");
    b.screenshots("product-digital").await;
    // blank again: the store's defaults
    b.fill("#url_ttl_seconds", "").await;
    b.fill("#max_downloads", "").await;
    assert_eq!(b.click("form.digital button[type=submit]").await, 200);
    let seen = app.get(&settings, token).await.expect(200);
    assert_eq!((seen["url_ttl_seconds"].clone(), seen["max_downloads"].clone()), (json!(null), json!(null)));
    assert_eq!(b.click(".digital-file form.remove-file button[type=submit]").await, 200);
    app.get(&asset, token).await.expect_problem(404, "asset_not_found");
    assert!(b.text(".digital-file").await.contains("未登録"));
    for f in [svg, jpeg, png, pdf, second] {
        let _ = std::fs::remove_dir_all(f.parent().unwrap());
    }
    b.close().await;
}

use crate::support::TestApp;
