//! `tenpo demo` seeds a store a newcomer can shop in at once, as the README shows.

use reqwest::Method;
use serde_json::json;

use crate::checkout::{address, cart_call, checkout};
use crate::inventory::{add, new_cart};
use crate::support::{Shop, TestApp};

fn seed(app: &TestApp) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tenpo"))
        .args(["demo", "--seed-only"])
        .env("DATABASE_URL", app.owner_url())
        .env("TENPO_DATA_DIR", std::env::temp_dir().join(format!("tenpo-demo-{}", uuid::Uuid::new_v4())))
        .env_remove("TENPO_CONFIG")
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_demo_store_sells_with_shipping_cod_and_a_welcome_code() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let out = seed(&app);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(seed(&app).status.success(), "seeding twice is harmless");
    let token = app.login("demo", "owner@demo.tenpo.test", "tenpo-demo-password").await;
    let shop = Shop { handle: "demo".into(), owner_token: token.clone(), ..Default::default() };

    // its commercial disclosures are published, for the storefront's page of them
    let legal = app.call(Method::GET, "/store/v1/stores/demo/legal-disclosures", None, None).await.expect(200);
    assert_eq!(legal["disclosures"]["seller_name"], "テンポデモコーヒー株式会社");
    let list = app.call(Method::GET, "/store/v1/stores/demo/products?limit=50", None, None).await.expect(200);
    let sku = |sku: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["variants"].as_array().unwrap().iter())
            .find(|v| v["sku"] == sku)
            .map(|v| v["id"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{sku} is not on the storefront"))
    };
    let cart = new_cart(&app, &shop).await;
    add(&app, &shop, &cart, &sku("MATCHA-LATTE-200"), 2, None).await.expect(201);
    add(&app, &shop, &cart, &sku("ARITA-CUP-AI"), 1, None).await.expect(201);
    cart_call(&app, Method::PUT, &shop, &cart, "/promotion", Some(json!({ "code": "welcome10" }))).await.expect(200);
    let placed = checkout(
        &app,
        &shop,
        &cart,
        json!({ "email": "guest@example.jp", "shipping_address": address("北海道"), "payment_method": "cod" }),
        None,
    )
    .await
    .expect(201);
    // 3,240 + 3,300 = 6,540; 10% off 654 -> 5,886 (free shipping from 5,000); COD 330
    let order = &placed["order"];
    let amounts: Vec<i64> = ["subtotal", "discount", "shipping_fee", "cod_fee", "total"]
        .iter()
        .map(|k| order[*k]["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [6540, 654, 0, 330, 6216]);
    let orders = app.get("/admin/v1/orders", &token).await.expect(200);
    assert_eq!(orders["items"][0]["number"], 1001);
}

#[tokio::test]
async fn the_demo_mall_has_three_vendors_with_their_logins_warehouses_and_products() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tenpo"))
            .args(["demo", "--seed-only", "--mall"])
            .env("DATABASE_URL", app.owner_url())
            .env("TENPO_DATA_DIR", std::env::temp_dir().join(format!("tenpo-demo-{}", uuid::Uuid::new_v4())))
            .env_remove("TENPO_CONFIG")
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("tea@demo-mall.tenpo.test"));
    assert!(run().status.success(), "seeding twice is harmless");
    let owner = app.login("demo-mall", "owner@demo-mall.tenpo.test", "tenpo-demo-password").await;
    let vendors = app.get("/admin/v1/vendors", &owner).await.expect(200);
    assert_eq!(vendors["items"].as_array().unwrap().len(), 3);
    for key in ["tea", "arita", "wagashi"] {
        let token = app.login("demo-mall", &format!("{key}@demo-mall.tenpo.test"), "tenpo-demo-password").await;
        let me = app.get("/admin/v1/vendors", &token).await.expect(200);
        let mine = me["items"].as_array().unwrap();
        assert_eq!(mine.len(), 1, "{key}");
        let locations = app.get("/admin/v1/locations", &token).await.expect(200);
        assert_eq!(locations.as_array().unwrap().len(), 1, "{key}: its warehouse");
        assert_eq!(locations[0]["vendor_id"], mine[0]["id"]);
        let products = app.get("/admin/v1/products", &token).await.expect(200);
        assert!(products["items"].as_array().unwrap().iter().all(|p| p["vendor_id"] == mine[0]["id"]));
    }
    // a shopper buys from two vendors: two shipments
    let list = app.call(Method::GET, "/store/v1/stores/demo-mall/products?limit=50", None, None).await.expect(200);
    let sku = |sku: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["variants"].as_array().unwrap().iter())
            .find(|v| v["sku"] == sku)
            .map(|v| v["id"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{sku} is not on the storefront"))
    };
    let shop = Shop { handle: "demo-mall".into(), owner_token: owner.clone(), ..Default::default() };
    let cart = new_cart(&app, &shop).await;
    add(&app, &shop, &cart, &sku("MALL-TEA-MATCHA"), 1, None).await.expect(201);
    add(&app, &shop, &cart, &sku("MALL-ARITA-CUP"), 1, None).await.expect(201);
    let placed = checkout(
        &app,
        &shop,
        &cart,
        json!({ "email": "guest@example.jp", "shipping_address": address("東京都"), "payment_method": "cod" }),
        None,
    )
    .await
    .expect(201);
    assert_eq!(placed["order"]["shipments"].as_array().unwrap().len(), 2);
}
