//! Shopify CSV with images over HTTP: Image Src fetched from a real local HTTP server by the
//! image worker, Image Position, Image Alt Text and Variant Image kept, renditions made; the
//! export then imported into another store reproduces them (fetched from Tenpo's own /media);
//! a private address is not fetched unless allowed; dropped columns and food at the standard
//! rate are reported.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use images::pixels::{self, Format};
use serde_json::Value;

use super::images::wait_ready;
use crate::support::{Answer, Shop, TestApp};

/// A picture server as a merchant's old shop or CDN is: three images, and a count of requests.
struct Pictures {
    base: String,
    hits: Arc<AtomicUsize>,
    files: Arc<Vec<(&'static str, &'static str, Vec<u8>)>>,
}

async fn pictures() -> Pictures {
    let files = Arc::new(vec![
        ("front.jpg", "image/jpeg", pixels::sample(Format::Jpeg, 1600, 1200)),
        ("side.png", "image/png", pixels::sample(Format::Png, 700, 350)),
        ("leaf.webp", "image/webp", pixels::sample(Format::Webp, 1300, 1300)),
    ]);
    let hits = Arc::new(AtomicUsize::new(0));
    type S = (Arc<AtomicUsize>, Arc<Vec<(&'static str, &'static str, Vec<u8>)>>);
    async fn serve(State((hits, files)): State<S>, Path(name): Path<String>) -> axum::response::Response {
        hits.fetch_add(1, Ordering::SeqCst);
        match files.iter().find(|(n, _, _)| *n == name) {
            Some((_, ct, bytes)) => ([(header::CONTENT_TYPE, *ct)], bytes.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let router =
        Router::new().route("/img/{name}", axum::routing::get(serve)).with_state((hits.clone(), files.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    Pictures { base, hits, files }
}

async fn import(app: &TestApp, shop: &Shop, csv: &str, query: &str) -> Answer {
    let res = app
        .client
        .post(app.url(&format!("/admin/v1/products/import{query}")))
        .bearer_auth(&shop.owner_token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    TestApp::read(res).await
}

async fn export(app: &TestApp, shop: &Shop) -> String {
    let res = app.client.get(app.url("/admin/v1/products/export")).bearer_auth(&shop.owner_token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

fn shopify_file(base: &str) -> String {
    format!(
        "Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,Option1 Name,Option1 Value,Variant SKU,Variant Grams,\
Variant Inventory Tracker,Variant Inventory Qty,Variant Inventory Policy,Variant Fulfillment Service,Variant Price,Variant Compare At Price,\
Variant Requires Shipping,Variant Taxable,Variant Barcode,Image Src,Image Position,Image Alt Text,Gift Card,SEO Title,SEO Description,\
Variant Image,Variant Weight Unit,Variant Tax Code,Cost per item,Status\n\
matcha,抹茶ラテ,<p>濃い抹茶</p>,Demo,Food,Tea,\"matcha, latte\",TRUE,Size,S,MATCHA-S,100,shopify,5,deny,manual,800,,TRUE,TRUE,,{base}/img/front.jpg,1,正面,FALSE,抹茶ラテ | 京都の茶舗,宇治抹茶のラテ,,g,,300,active\n\
matcha,,,,,,,,,L,MATCHA-L,200,shopify,5,deny,manual,1200,,TRUE,TRUE,,{base}/img/side.png,2,横から,,,,{base}/img/side.png,g,,500,\n\
matcha,,,,,,,,,,,,,,,,,,,,,{base}/img/leaf.webp,3,茶葉,,,,,,,,\n"
    )
}

/// An image as compared: position, alt text, width, height, renditions' sizes.
type Shown = (i64, String, i64, i64, Vec<(i64, i64)>);

fn by_position(images: &Value) -> Vec<Shown> {
    images
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let r = i["renditions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["width"].as_i64().unwrap(), r["height"].as_i64().unwrap()))
                .collect();
            (
                i["position"].as_i64().unwrap(),
                i["alt"].as_str().unwrap().to_string(),
                i["width"].as_i64().unwrap(),
                i["height"].as_i64().unwrap(),
                r,
            )
        })
        .collect()
}

async fn product_by_handle(app: &TestApp, shop: &Shop, handle: &str) -> Value {
    let list = app.get("/admin/v1/products?limit=50", &shop.owner_token).await.expect(200);
    let id = list["items"].as_array().unwrap().iter().find(|p| p["handle"] == handle).expect("the product")["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.get(&format!("/admin/v1/products/{id}"), &shop.owner_token).await.expect(200)
}

#[tokio::test]
async fn a_product_with_three_images_and_a_variant_image_round_trips_through_shopify_csv() {
    let pics = pictures().await;
    let app = TestApp::spawn_with(|c, _| c.images.fetch.allow_hosts = vec!["127.0.0.1".into()]).await;
    let shop = app.shop().await;

    let report = import(&app, &shop, &shopify_file(&pics.base), "").await.expect(200);
    assert_eq!((report["products_created"].as_i64(), report["images_queued"].as_i64()), (Some(1), Some(3)), "{report}");
    // every column dropped is named, once
    let dropped: Vec<&str> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == "column_dropped")
        .map(|w| w["field"].as_str().unwrap())
        .collect();
    assert_eq!(dropped, ["Product Category", "Gift Card", "Variant Tax Code", "Cost per item"], "{report}");
    // a tea at the standard rate is flagged
    let food: Vec<&Value> =
        report["warnings"].as_array().unwrap().iter().filter(|w| w["code"] == "standard_rate_food").collect();
    assert_eq!(food.len(), 1, "{report}");
    assert_eq!(food[0]["field"], "line 2: Variant Tax Class");

    let p = product_by_handle(&app, &shop, "matcha").await;
    let pid = p["id"].as_str().unwrap();
    let ready = wait_ready(&app, &shop, pid).await;
    let expected = vec![
        (1, "正面".to_string(), 1600, 1200, vec![(200, 150), (600, 450), (1200, 900)]),
        (2, "横から".to_string(), 700, 350, vec![(200, 100), (600, 300)]),
        (3, "茶葉".to_string(), 1300, 1300, vec![(200, 200), (600, 600), (1200, 1200)]),
    ];
    assert_eq!(by_position(&Value::Array(ready.clone())), expected);
    assert_eq!(pics.hits.load(Ordering::SeqCst), 3, "each Image Src fetched once");
    // the originals are the served bytes; the renditions have their stated sizes
    for (img, (_, ct, bytes)) in ready.iter().zip(pics.files.iter()) {
        assert_eq!(img["content_type"], *ct);
        let got = app.client.get(app.url(img["url"].as_str().unwrap())).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], &bytes[..]);
        for r in img["renditions"].as_array().unwrap() {
            let got = app.client.get(app.url(r["url"].as_str().unwrap())).send().await.unwrap().bytes().await.unwrap();
            let probe = pixels::probe(&got).unwrap();
            assert_eq!(
                (probe.width as i64, probe.height as i64),
                (r["width"].as_i64().unwrap(), r["height"].as_i64().unwrap())
            );
        }
    }
    let p = product_by_handle(&app, &shop, "matcha").await;
    assert_eq!(p["variants"][1]["image_id"], ready[1]["id"], "Variant Image");
    assert_eq!(p["variants"][0]["image_id"], Value::Null);
    assert_eq!(
        (p["seo_title"].as_str(), p["seo_description"].as_str()),
        (Some("抹茶ラテ | 京都の茶舗"), Some("宇治抹茶のラテ"))
    );

    // export, then import into another tenant's store: images fetched from this Tenpo's /media
    let exported = export(&app, &shop).await;
    let mut lines = exported.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for c in ["Image Src", "Image Position", "Image Alt Text", "Variant Image", "SEO Title", "SEO Description"] {
        assert!(header.contains(&c), "{c} in {header:?}");
    }
    assert_eq!(exported.lines().count(), 1 + 3, "two variant rows and one image-only row:\n{exported}");
    assert!(exported.contains(&format!("{}/media/t/", app.base)), "absolute Image Src:\n{exported}");

    let other = app.shop().await;
    let again = import(&app, &other, &exported, "").await.expect(200);
    assert_eq!(again["images_queued"], 3, "{again}");
    assert!(
        again["warnings"].as_array().unwrap().iter().all(|w| w["code"] != "column_dropped"),
        "Tenpo's own export drops nothing: {again}"
    );
    let q = product_by_handle(&app, &other, "matcha").await;
    let copied = wait_ready(&app, &other, q["id"].as_str().unwrap()).await;
    assert_eq!(by_position(&Value::Array(copied.clone())), expected);
    for (a, b) in ready.iter().zip(copied.iter()) {
        assert_eq!(
            (a["size_bytes"].clone(), a["content_type"].clone()),
            (b["size_bytes"].clone(), b["content_type"].clone())
        );
    }
    let q = product_by_handle(&app, &other, "matcha").await;
    assert_eq!(q["variants"][1]["image_id"], copied[1]["id"], "Variant Image kept");
    assert_eq!(q["seo_title"], p["seo_title"]);
    assert_eq!(pics.hits.load(Ordering::SeqCst), 3, "the copy came from Tenpo, not the picture server");
    // and its export is the same file but for the URLs
    let re_exported = export(&app, &other).await;
    let strip = |s: &str| -> Vec<String> {
        // (the Vendor column, 4th, is each tenant's own house vendor)
        s.lines()
            .map(|l| {
                let cells: Vec<&str> = l.split(',').collect();
                cells
                    .iter()
                    .enumerate()
                    .filter(|(i, c)| *i != 3 && !c.contains("/media/"))
                    .map(|(_, c)| *c)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    };
    assert_eq!(strip(&re_exported), strip(&exported));

    // importing the same file again adds no image
    let same = import(&app, &other, &exported, "").await.expect(200);
    assert_eq!(same["images_queued"], 0, "{same}");
}

#[tokio::test]
async fn private_image_urls_are_not_fetched_unless_allowed() {
    let pics = pictures().await;
    let app = TestApp::spawn().await;
    let shop = app.shop().await;
    let report = import(&app, &shop, &shopify_file(&pics.base), "?tax_class=reduced").await.expect(200);
    assert_eq!(report["images_queued"], 3);
    assert!(report["warnings"].as_array().unwrap().iter().all(|w| w["code"] != "standard_rate_food"), "{report}");
    let p = product_by_handle(&app, &shop, "matcha").await;
    assert!(p["variants"].as_array().unwrap().iter().all(|v| v["tax_class"] == "reduced"));
    let pid = p["id"].as_str().unwrap();
    for _ in 0..300 {
        let list = app.get(&format!("/admin/v1/products/{pid}/images"), &shop.owner_token).await.expect(200);
        if list.as_array().unwrap().iter().all(|i| i["status"] == "failed") {
            for i in list.as_array().unwrap() {
                let why = i["error"].as_str().unwrap();
                assert!(why.contains("https") || why.contains("private"), "{why}");
                assert_eq!(i["url"], Value::Null);
            }
            assert_eq!(pics.hits.load(Ordering::SeqCst), 0, "nothing was requested");
            // the storefront shows none of them
            let page = app
                .call(reqwest::Method::GET, &format!("/store/v1/stores/{}/products/matcha", shop.handle), None, None)
                .await
                .expect(200);
            assert_eq!(page["images"], serde_json::json!([]));
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the images were not refused");
}
