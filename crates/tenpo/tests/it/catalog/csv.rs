//! Catalog CSV in Shopify's layout: import (CLI and API), export, round trip, encodings.

use std::time::Instant;

use reqwest::Method;
use serde_json::Value;

use super::active_product;
use crate::support::{Answer, Shop, TestApp};

/// A Shopify-layout catalog: `products` products with three sizes each.
fn shopify_csv(products: usize) -> String {
    let mut out = String::from(
        "Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,Option1 Name,Option1 Value,Option1 Linked To,\
         Option2 Name,Option2 Value,Option3 Name,Option3 Value,Variant SKU,Variant Grams,Variant Inventory Tracker,\
         Variant Inventory Qty,Variant Inventory Policy,Variant Fulfillment Service,Variant Price,Variant Compare At Price,\
         Variant Requires Shipping,Variant Taxable,Variant Barcode,Image Src,Image Position,Image Alt Text,Gift Card,\
         SEO Title,SEO Description,Variant Image,Variant Weight Unit,Variant Tax Code,Cost per item,Status\n",
    );
    for i in 0..products {
        for (j, size) in ["S", "M", "L"].iter().enumerate() {
            let first = j == 0;
            let product_cols = if first {
                format!("Tea {i},\"<p>Leaf tea number {i}, 100g</p>\",Demo,Food,Tea,\"green, organic\",TRUE,Size")
            } else {
                ",,,,,,,".to_string()
            };
            let price = 1000 + i * 10 + j * 100;
            out.push_str(&format!(
                "tea-{i},{product_cols},{size},,,,,,TEA-{i}-{size},100,shopify,{qty},deny,manual,{price},{compare},TRUE,TRUE,,https://cdn.example/tea.jpg,1,,FALSE,,,,g,,,{status}\n",
                qty = (i + j) % 20,
                compare = if i % 3 == 0 { (price + 200).to_string() } else { String::new() },
                status = if first { "active" } else { "" },
            ));
        }
    }
    out
}

async fn import_csv(app: &TestApp, shop: &Shop, body: Vec<u8>, query: &str) -> Answer {
    let res = app
        .client
        .post(app.url(&format!("/admin/v1/products/import{query}")))
        .bearer_auth(&shop.owner_token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    TestApp::read(res).await
}

async fn export_csv(app: &TestApp, shop: &Shop) -> String {
    let res = app.client.get(app.url("/admin/v1/products/export")).bearer_auth(&shop.owner_token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    res.text().await.unwrap()
}

async fn product_count(app: &TestApp, shop: &Shop) -> i64 {
    app.count(&format!("SELECT count(*) FROM products WHERE store_id = '{}'", shop.store_id)).await
}

#[tokio::test]
async fn a_thousand_products_import_in_one_command() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let dir = std::env::temp_dir().join(format!("tenpo-import-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("products.csv");
    std::fs::write(&file, shopify_csv(1000)).unwrap();
    let url = app.owner_url();
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenpo"))
        .args(["catalog", "import"])
        .arg(&file)
        .args(["--store", &shop.handle])
        .env("DATABASE_URL", &url)
        .env("TENPO_DATA_DIR", &dir)
        .env_remove("TENPO_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("imported 1,000 products / 3,000 variants in {:?}: {stdout}", started.elapsed());
    assert!(stdout.contains("1000 products created"), "{stdout}");
    assert_eq!(product_count(&app, &shop).await, 1000);
    assert_eq!(app.count(&format!("SELECT count(*) FROM variants WHERE store_id = '{}'", shop.store_id)).await, 3000);
    assert_eq!(
        app.count(&format!("SELECT sum(stock)::bigint FROM inventory_stocks WHERE store_id = '{}'", shop.store_id))
            .await,
        (0..1000).flat_map(|i| (0..3).map(move |j| ((i + j) % 20) as i64)).sum::<i64>()
    );
    let p = app
        .call(Method::GET, &format!("/store/v1/stores/{}/products/tea-3", shop.handle), None, None)
        .await
        .expect(200);
    assert_eq!(p["variants"][1]["price"]["amount"], 1130);
    assert_eq!(p["variants"][0]["compare_at_price"]["amount"], 1230);
    assert_eq!(p["tags"], serde_json::json!(["green", "organic"]));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn export_then_import_into_an_empty_store_reproduces_the_catalog() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let source = app.shop().await;
    // a second store of the same tenant: same vendor, empty catalog
    let target = app.store_in(&source.tenant_id, &format!("{}-copy", source.handle)).await;
    import_csv(&app, &source, shopify_csv(20).into_bytes(), "").await.expect(200);
    // some hand-made variety: Japanese text, reduced tax, digital, hot, draft, archived
    active_product(&app, &source, "抹茶ラテ パウダー", &[("MATCHA", 1620, 4)]).await;
    app.post(
        "/admin/v1/products",
        &source.owner_token,
        serde_json::json!({ "title": "ガイド", "handle": "guide", "description": "PDF, \"quoted\", with, commas",
                            "variants": [{ "sku": "PDF", "fulfillment_type": "digital", "tax_class": "reduced", "price": super::yen(550) }] }),
    )
    .await
    .expect(201);
    app.post(
        "/admin/v1/products",
        &source.owner_token,
        serde_json::json!({ "title": "新茶", "handle": "shincha", "status": "active", "tags": ["限定"],
                            "variants": [{ "sku": "NEW", "is_hot": true, "price": super::yen(2980), "compare_at_price": super::yen(3200), "inventory_quantity": 100 }] }),
    )
    .await
    .expect(201);
    let a = export_csv(&app, &source).await;
    let report = import_csv(&app, &target, a.clone().into_bytes(), "").await.expect(200);
    assert_eq!(report["products_created"], 23);
    let b = export_csv(&app, &target).await;
    assert_eq!(a, b, "the round trip changed the catalog");
    assert!(
        b.contains("抹茶ラテ パウダー") && b.contains("reduced") && b.contains("\"PDF, \"\"quoted\"\", with, commas\"")
    );
}

#[tokio::test]
async fn a_shift_jis_file_from_japanese_excel_imports() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let text = "Handle,Title,Body (HTML),Vendor,Type,Tags,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Inventory Qty,Status,Variant Tax Class\r\n\
                ryokucha,オーガニック緑茶 ティーバッグ,静岡県産の有機緑茶,,お茶,\"緑茶, 有機\",Title,Default Title,RYO-20,\"1,080\",12,active,reduced\r\n";
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&sjis).is_err(), "the bytes really are Shift_JIS");
    let report = import_csv(&app, &shop, sjis.into_owned(), "").await.expect(200);
    assert_eq!(report["encoding"], "shift_jis");
    let p = app
        .call(Method::GET, &format!("/store/v1/stores/{}/products/ryokucha", shop.handle), None, None)
        .await
        .expect(200);
    assert_eq!(p["title"], "オーガニック緑茶 ティーバッグ");
    assert_eq!(p["tags"], serde_json::json!(["緑茶", "有機"]));
    assert_eq!(p["variants"][0]["price"]["amount"], 1080);
    assert_eq!(p["variants"][0]["tax_class"], "reduced");
    assert!(p["options"].as_array().unwrap().is_empty());
    // with a BOM too
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.replace("ryokucha", "ryokucha-2").replace("RYO-20", "RYO-21").as_bytes());
    let report = import_csv(&app, &shop, bom, "").await.expect(200);
    assert_eq!(report["encoding"], "utf8_bom");
}

#[tokio::test]
async fn one_bad_row_fails_the_whole_file_with_its_line_number() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let mut csv = shopify_csv(50);
    // line 1 is the header; product i's rows are lines 3i+2..3i+4: break product 30's second row
    csv = csv.replace("TEA-30-M,100,shopify,11,deny,manual,1400,", "TEA-30-M,100,shopify,11,deny,manual,14OO,");
    let body = import_csv(&app, &shop, csv.clone().into_bytes(), "").await.expect_problem(422, "import_rejected");
    assert_eq!(body["errors"][0]["field"], "line 93: Variant Price", "{body}");
    assert!(body["detail"].as_str().unwrap().contains("nothing was imported"));
    assert_eq!(product_count(&app, &shop).await, 0);
    assert_eq!(app.count("SELECT count(*) FROM outbox_events WHERE event_type = 'product.created'").await, 0);

    // partial mode imports the rest and says what it skipped
    let report = import_csv(&app, &shop, csv.into_bytes(), "?mode=partial").await.expect(200);
    assert_eq!(report["products_created"], 49);
    assert_eq!(report["skipped"][0]["field"], "line 93: Variant Price");
    assert_eq!(product_count(&app, &shop).await, 49);
}

#[tokio::test]
async fn importing_again_updates_by_handle_and_sku() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    import_csv(&app, &shop, shopify_csv(3).into_bytes(), "").await.expect(200);
    let changed = shopify_csv(3)
        .replace("Tea 1,", "Tea One,")
        .replace("TEA-2-L,100,shopify,4,deny,manual,1220,", "TEA-2-L,100,shopify,4,deny,manual,1999,");
    let report: Value = import_csv(&app, &shop, changed.into_bytes(), "").await.expect(200);
    assert_eq!((report["products_created"].as_u64(), report["products_updated"].as_u64()), (Some(0), Some(3)));
    assert_eq!(report["variants_updated"], 9);
    let p = app
        .call(Method::GET, &format!("/store/v1/stores/{}/products/tea-1", shop.handle), None, None)
        .await
        .expect(200);
    assert_eq!(p["title"], "Tea One");
    let p = app
        .call(Method::GET, &format!("/store/v1/stores/{}/products/tea-2", shop.handle), None, None)
        .await
        .expect(200);
    assert_eq!(p["variants"][2]["price"]["amount"], 1999);
    // not CSV, or no Handle column: a clear 4xx
    let res = app
        .client
        .post(app.url("/admin/v1/products/import"))
        .bearer_auth(&shop.owner_token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    TestApp::read(res).await.expect_problem(415, "unsupported_media_type");
    import_csv(&app, &shop, b"Name,Price\nx,1\n".to_vec(), "").await.expect_problem(422, "unreadable_csv");
}

#[tokio::test]
async fn new_products_are_written_in_batches_and_a_failing_batch_reports_each_product() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let store = &shop.store_id;
    // no active location to hold stock: the products with a quantity cannot be imported
    sqlx::query(&format!("UPDATE store_locations SET status = 'inactive' WHERE store_id = '{store}'"))
        .execute(&app.owner)
        .await
        .unwrap();
    let csv = "Handle,Title,Variant SKU,Variant Price,Variant Inventory Qty,Status\n\
               a,A,A1,100,5,active\n\
               b,B,B1,100,,active\n\
               c,C,C1,100,0,active\n";
    let report = import_csv(&app, &shop, csv.into(), "?mode=partial").await.expect(200);
    assert_eq!(report["products_created"], 1, "{report}");
    let skipped: Vec<&str> =
        report["skipped"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(skipped, ["line 2: Handle", "line 4: Handle"], "{report}");
    assert!(report["skipped"][0]["message"].as_str().unwrap().contains("no active location"), "{report}");
    assert_eq!(product_count(&app, &shop).await, 1);
    let events =
        |kind: &str| format!("SELECT count(*) FROM outbox_events WHERE store_id = '{store}' AND event_type = '{kind}'");
    assert_eq!(app.count(&events("product.created")).await, 1, "only the product imported has its event");

    // with a location, a batch writes products, variants, stock, movements and events
    sqlx::query(&format!("UPDATE store_locations SET status = 'active' WHERE store_id = '{store}'"))
        .execute(&app.owner)
        .await
        .unwrap();
    let csv = "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Inventory Qty,Status\n\
               d,D,Size,S,D-S,100,3,active\n\
               d,,,L,D-L,150,0,\n\
               e,E,Size,S,E-S,200,7,draft\n";
    let report = import_csv(&app, &shop, csv.into(), "").await.expect(200);
    assert_eq!((report["products_created"].as_i64(), report["variants_created"].as_i64()), (Some(2), Some(3)));
    assert_eq!(app.count(&events("product.created")).await, 3);
    assert_eq!(app.count(&events("inventory.stock_changed")).await, 2, "a level of 0 is no change");
    let stock = format!("SELECT count(*) FROM inventory_stocks WHERE store_id = '{store}'");
    assert_eq!(app.count(&stock).await, 3, "a row per physical variant, 0 included");
    let moved = format!(
        "SELECT sum(stock_delta)::bigint FROM inventory_movements WHERE store_id = '{store}' AND reason = 'import'"
    );
    assert_eq!(app.count(&moved).await, 10);
    let first = format!("SELECT count(*) FROM outbox_events WHERE store_id = '{store}' AND sequence <> 1");
    assert_eq!(app.count(&first).await, 0, "each new aggregate's first event is its number 1");
    let d =
        app.call(Method::GET, &format!("/store/v1/stores/{}/products/d", shop.handle), None, None).await.expect(200);
    assert_eq!(d["options"], serde_json::json!(["Size"]));
    assert_eq!(d["variants"][1]["price"]["amount"], 150);
    assert_eq!(d["variants"][0]["availability"], "low");
    assert!(d["published_at"].is_string(), "an active product is published when created");
    app.call(Method::GET, &format!("/store/v1/stores/{}/products/e", shop.handle), None, None).await.expect(404);
}
