//! A store routed to a database on the second server is served from there: its rows exist only
//! there, and its storefront, admin, checkout and flash sales behave as in the main database,
//! while a store left in the main database is unaffected.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

use db::testing::SECOND_SERVER_PASSWORD;

use super::{APP_PASSWORD, OnSecond, app_with_second, tables_containing};
use crate::catalog::active_product;
use crate::checkout::{address, cart_with, checkout, tea_shop_in};
use crate::digital::{confirm_payment, deliveries_until, download_url, first_delivery, place, upload};
use crate::inventory::{add, decided, new_cart, stocked_variant};
use crate::support::process::tenpo;
use crate::support::{Shop, TestApp};

async fn route(app: &TestApp, shop: &Shop, to: &str) {
    let path = format!("/platform/v1/tenants/{}/stores/{}/database", shop.tenant_id, shop.store_id);
    let route = app.op(Method::PUT, &path, Some(json!({ "db_key": to }))).await.expect(200);
    assert_eq!(route["db_key"], to);
}

async fn count(pool: &sqlx::PgPool, table: &str, store: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE store_id = '{store}'"))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_routed_store_is_served_from_its_database_and_its_rows_live_only_there() {
    let (app, second, secret) = app_with_second(false).await;
    let routed = app.shop().await;
    route(&app, &routed, "second").await;
    let left = app.shop().await;

    // admin: settings and products of the routed store are written on the second server
    let t = tea_shop_in(&app, routed.clone()).await;
    let kept = active_product(&app, &left, "Kept", &[("KEPT", 500, 3)]).await;
    for table in ["products", "variants", "inventory_stocks"] {
        assert_eq!(count(&app.owner, table, &routed.store_id).await, 0, "{table} of the routed store on main");
        assert!(count(&second.owner, table, &routed.store_id).await > 0, "{table} of the routed store not there");
        assert_eq!(count(&second.owner, table, &left.store_id).await, 0, "{table} of the main store on second");
    }
    // its control rows stay on main, mirrored where its data points at them
    assert_eq!(count(&second.owner, "store_staff", &routed.store_id).await, 0);
    let mirrored: i64 = sqlx::query_scalar(&format!(
        "SELECT (SELECT count(*) FROM tenants WHERE id = '{}') + (SELECT count(*) FROM stores WHERE id = '{}')",
        routed.tenant_id, routed.store_id
    ))
    .fetch_one(&second.owner)
    .await
    .unwrap();
    assert_eq!(mirrored, 2);

    // storefront
    let list =
        app.call(Method::GET, &format!("/store/v1/stores/{}/products", routed.handle), None, None).await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 3, "{list}");
    let other =
        app.call(Method::GET, &format!("/store/v1/stores/{}/products", left.handle), None, None).await.expect(200);
    assert_eq!(other["items"][0]["id"], kept["id"]);

    // a guest checks out
    let cart = cart_with(&app, &routed, &[(&t.tea, 2), (&t.cup, 1)]).await;
    let body = json!({ "email": "guest@example.jp", "shipping_address": address("東京都"), "payment_method": "bank_transfer" });
    let placed = checkout(&app, &routed, &cart, body, Some("routed-1")).await.expect(201);
    let order_id = placed["order"]["id"].as_str().unwrap().to_string();
    assert_eq!(count(&app.owner, "orders", &routed.store_id).await, 0);
    assert_eq!(count(&second.owner, "orders", &routed.store_id).await, 1);
    assert_eq!(count(&second.owner, "carts", &routed.store_id).await, 1);
    let customers = |pool: &sqlx::PgPool| {
        let sql = format!("SELECT count(*) FROM customers WHERE tenant_id = '{}'", routed.tenant_id);
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(&sql).fetch_one(&pool).await.unwrap() }
    };
    // the identity map on main, the store's copy of the customer under the same id where its order is
    assert_eq!((customers(&app.owner).await, customers(&second.owner).await), (1, 1), "the guest's customer row");
    // the same key answers the same order
    let again = checkout(
        &app,
        &routed,
        &cart,
        json!({ "email": "guest@example.jp", "shipping_address": address("東京都"),
        "payment_method": "bank_transfer" }),
        Some("routed-1"),
    )
    .await;
    assert_eq!(again.body["order"]["id"], order_id.as_str(), "{}", again.body);

    // the admin sees it
    let orders = app.get("/admin/v1/orders", &routed.owner_token).await.expect(200);
    assert_eq!(orders["items"][0]["id"], order_id.as_str(), "{orders}");
    app.get(&format!("/admin/v1/orders/{order_id}"), &routed.owner_token).await.expect(200);
    let me = app.get("/admin/v1/auth/me", &routed.owner_token).await.expect(200);
    assert_eq!(me["store"]["id"], routed.store_id.as_str(), "{me}");
    // and the store left in main has none of it
    let none = app.get("/admin/v1/orders", &left.owner_token).await.expect(200);
    assert!(none["items"].as_array().unwrap().is_empty(), "{none}");

    // its database taken out of use: the store answers 503 with Retry-After, never from main
    app.op(Method::PATCH, "/platform/v1/databases/second", Some(json!({ "status": "inactive" }))).await.expect(200);
    let res = app.client.get(app.url(&format!("/store/v1/stores/{}/products", routed.handle))).send().await.unwrap();
    assert_eq!(res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string()), Some("5".into()));
    TestApp::read(res).await.expect_problem(503, "store_database_unavailable");
    app.get("/admin/v1/orders", &routed.owner_token).await.expect_problem(503, "store_database_unavailable");
    app.call(Method::GET, &format!("/store/v1/stores/{}/products", left.handle), None, None).await.expect(200);
    let _ = std::fs::remove_file(secret);
}

#[tokio::test]
async fn a_flash_sale_on_a_routed_store_grants_exactly_its_units() {
    let (app, second, secret) = app_with_second(true).await;
    let app = Arc::new(app);
    let shop = app.shop().await;
    route(&app, &shop, "second").await;
    let shop = Arc::new(shop);
    let variant = Arc::new(stocked_variant(&app, &shop, 20, true, None).await);
    let mut carts = Vec::new();
    for _ in 0..80 {
        carts.push(new_cart(&app, &shop).await);
    }
    let answers = join_all(carts.into_iter().map(|cart| {
        let (app, shop, variant) = (app.clone(), shop.clone(), variant.clone());
        tokio::spawn(async move {
            let first = add(&app, &shop, &cart, &variant, 1, None).await;
            decided(&app, &shop, &cart, first).await
        })
    }))
    .await;
    let granted = answers.iter().filter(|a| a.as_ref().unwrap()["status_code"] == 201).count();
    assert_eq!(granted, 20, "{answers:?}");
    let (stock, reserved): (i64, i64) = sqlx::query_as(&format!(
        "SELECT coalesce(sum(stock), 0)::bigint, coalesce(sum(reserved), 0)::bigint FROM inventory_stocks WHERE variant_id = '{variant}'"
    ))
    .fetch_one(&second.owner)
    .await
    .unwrap();
    assert_eq!((stock, reserved), (20, 20));
    let requests: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM inventory_reservation_requests WHERE variant_id = '{variant}'"
    ))
    .fetch_one(&second.owner)
    .await
    .unwrap();
    assert_eq!(requests, 80, "the hot requests were recorded in the store's database");
    // the store's events are relayed there too (the worker's set for the second database)
    let started = Instant::now();
    loop {
        let pending: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM outbox_events WHERE store_id = '{}' AND status <> 'published'",
            shop.store_id
        ))
        .fetch_one(&second.owner)
        .await
        .unwrap();
        if pending == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{pending} events of the routed store never relayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // `tenpo inventory check` looks into the store's database too: clean, then a drift made
    // there is found
    let check = || {
        let out = tenpo(&app).args(["inventory", "check"]).env("TENPO_APP_DB_PASSWORD", APP_PASSWORD).output().unwrap();
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    let (ok, text) = check();
    assert!(ok, "{text}");
    sqlx::query(&format!("UPDATE inventory_stocks SET reserved = reserved - 1 WHERE variant_id = '{variant}'"))
        .execute(&second.owner)
        .await
        .unwrap();
    let (ok, text) = check();
    assert!(!ok && text.contains(variant.as_str()), "{text}");
    let _ = std::fs::remove_file(secret);
}

#[tokio::test]
async fn a_routed_stores_digital_goods_are_delivered_and_downloaded_from_its_database() {
    let (app, second, secret) = app_with_second(true).await;
    let shop = app.shop().await;
    route(&app, &shop, "second").await;
    let t = tea_shop_in(&app, shop.clone()).await;
    let product: uuid::Uuid = sqlx::query_scalar("SELECT product_id FROM variants WHERE id = $1::uuid")
        .bind(&t.guide)
        .fetch_one(&second.owner)
        .await
        .unwrap();
    let file = b"%PDF-1.4 routed guide".to_vec();
    upload(&app, &shop, &product.to_string(), &t.guide, &file, "guide.pdf", Some("application/pdf")).await.expect(201);
    let (order, placed) = place(&app, &shop, &[(&t.guide, 1)]).await;
    confirm_payment(&app, &shop, &order, &placed["total"]).await;
    // the delivery is made by the relay of the store's database
    deliveries_until(&app, &shop, &order, |d| d.len() == 1).await;
    let delivery = first_delivery(&app, &shop, &order).await;
    let (url, _) = download_url(&app, &shop, &order, &delivery).await;
    let got = app.client.get(&url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), file);
    let deliveries = |pool: &sqlx::PgPool| {
        let (pool, sql) =
            (pool.clone(), format!("SELECT count(*) FROM digital_deliveries WHERE order_id = '{}'", order.id));
        async move { sqlx::query_scalar::<_, i64>(&sql).fetch_one(&pool).await.unwrap() }
    };
    assert_eq!((deliveries(&app.owner).await, deliveries(&second.owner).await), (0, 1));
    let downloaded: i32 = sqlx::query_scalar("SELECT downloaded_count FROM digital_deliveries WHERE id = $1::uuid")
        .bind(&delivery)
        .fetch_one(&second.owner)
        .await
        .unwrap();
    assert_eq!(downloaded, 1);
    // the connection's password is in no table of either database
    for pool in [&app.owner, &second.owner] {
        assert!(tables_containing(pool, SECOND_SERVER_PASSWORD).await.is_empty());
    }
    let _ = std::fs::remove_file(secret);
}

#[tokio::test]
async fn a_route_to_a_database_that_is_not_ready_is_refused_and_the_store_stays_served_from_main() {
    let (app, second, secret) = app_with_second(false).await;
    let lagging = OnSecond::create(false).await;
    let shop = app.shop().await;
    let add = |key: &str, host: String, port: u16, database: String, status: &str| {
        json!({ "db_key": key, "kind": "shared", "host": host, "port": port, "database": database,
                "username": "tenpo", "password_secret_ref": format!("file:{}", secret.display()), "status": status })
    };
    for body in [
        add("off", second.host(), 5432, second.name().to_string(), "inactive"),
        add("nowhere", "127.0.0.1".into(), 9, "nothing".into(), "active"),
        add("behind", lagging.host(), 5432, lagging.name().to_string(), "active"),
    ] {
        app.op(Method::POST, "/platform/v1/databases", Some(body)).await.expect(201);
    }
    let path = format!("/platform/v1/tenants/{}/stores/{}/database", shop.tenant_id, shop.store_id);
    for (key, why) in [("off", "inactive"), ("nowhere", ""), ("behind", "migrat")] {
        let body =
            app.op(Method::PUT, &path, Some(json!({ "db_key": key }))).await.expect_problem(409, "database_not_ready");
        assert!(body["detail"].as_str().unwrap().contains(why), "{key}: {body}");
    }
    assert_eq!(app.op(Method::GET, &path, None).await.expect(200)["db_key"], "main");
    active_product(&app, &shop, "Still here", &[("S", 100, 1)]).await;
    assert_eq!(count(&app.owner, "products", &shop.store_id).await, 1);
    let _ = std::fs::remove_file(secret);
}
