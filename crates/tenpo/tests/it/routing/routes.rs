//! Routes: a store routed to another database is never answered from the main one, and a route
//! change reaches every API process within a second (NOTIFY on the control database).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::{APP_PASSWORD, app_with_second};
use crate::catalog::active_product;
use crate::support::TestApp;
use crate::support::process::{Served, free_port, tenpo};

/// Polls `base` + `path` until it answers `status`; how long that took.
async fn until_status(client: &reqwest::Client, base: &str, path: &str, status: u16) -> Duration {
    let started = Instant::now();
    loop {
        let res = client.get(format!("{base}{path}")).send().await.unwrap();
        if res.status().as_u16() == status {
            if status == 503 {
                assert_eq!(res.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("5"));
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["code"], "store_database_unavailable", "{body}");
            }
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{base}{path} never answered {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls until `base` serves the store from the database `key` (the admin lists the marker
/// endpoint written only there, [`mark`]); how long that took.
async fn until_routed(client: &reqwest::Client, base: &str, token: &str, key: &str) -> Duration {
    let started = Instant::now();
    loop {
        let res = client.get(format!("{base}/admin/v1/webhooks")).bearer_auth(token).send().await.unwrap();
        if res.status() == 200 {
            let body: Value = res.json().await.unwrap();
            if body["items"][0]["url"] == format!("https://{key}.test/hook").as_str() {
                return started.elapsed();
            }
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{base} never served the store from {key}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A webhook endpoint of the store written straight into one database: which database answers
/// shows in the admin's list.
async fn mark(pool: &sqlx::PgPool, shop: &crate::support::Shop, key: &str) {
    sqlx::query(&format!(
        "INSERT INTO webhook_endpoints (tenant_id, store_id, url, secret) VALUES ('{}', '{}', 'https://{key}.test/hook', 's')",
        shop.tenant_id, shop.store_id
    ))
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_route_change_reaches_both_api_processes_within_a_second_and_a_routed_store_is_served_from_its_database() {
    let (app, second, secret) = app_with_second(false).await;
    let other = Served::start(&app, free_port(), &[("TENPO_APP_DB_PASSWORD", APP_PASSWORD)]).await;

    let shared = app.shop().await;
    let product = active_product(&app, &shared, "Tea", &[("TEA", 1000, 10)]).await;
    let routed = app.store_in(&shared.tenant_id, &format!("{}-b", shared.handle)).await;
    let products = |handle: &str| format!("/store/v1/stores/{handle}/products");
    let bases = [app.base.clone(), other.base.clone()];
    for base in &bases {
        until_status(&app.client, base, &products(&routed.handle), 200).await;
    }

    // a store with data is moved, not routed
    let path =
        |s: &crate::support::Shop| format!("/platform/v1/tenants/{}/stores/{}/database", s.tenant_id, s.store_id);
    app.op(Method::PUT, &path(&shared), Some(json!({ "db_key": "second" })))
        .await
        .expect_problem(409, "store_has_data");
    app.op(Method::PUT, &path(&routed), Some(json!({ "db_key": "nope" })))
        .await
        .expect_problem(404, "db_connection_not_found");
    assert_eq!(app.op(Method::GET, &path(&routed), None).await.expect(200)["db_key"], "main");

    mark(&app.owner, &routed, "main").await;
    let route = app.op(Method::PUT, &path(&routed), Some(json!({ "db_key": "second" }))).await.expect(200);
    assert_eq!(route["db_key"], "second");
    mark(&second.owner, &routed, "second").await;
    let first_version = route["version"].as_i64().unwrap();
    let mut seen = Vec::new();
    for base in &bases {
        seen.push(until_routed(&app.client, base, &routed.owner_token, "second").await);
    }
    assert!(seen.iter().all(|d| *d < Duration::from_secs(1)), "the route change took {seen:?} to be seen");
    eprintln!("route to second seen by the two processes after {seen:?}");
    // the store left in the shared database is unaffected
    for base in &bases {
        let list = app.client.get(format!("{base}{}", products(&shared.handle))).send().await.unwrap();
        assert_eq!(list.status(), 200);
        let body: Value = list.json().await.unwrap();
        assert_eq!(body["items"][0]["id"], product["id"], "{body}");
    }

    // back to the main database, with the CLI: served again by both, the version moved on
    let out = tenpo(&app)
        .args(["store", "route", "--store", &routed.handle, "--to", "main"])
        .env("TENPO_APP_DB_PASSWORD", APP_PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["db_key"], "main");
    let mut seen = Vec::new();
    for base in &bases {
        seen.push(until_routed(&app.client, base, &routed.owner_token, "main").await);
    }
    assert!(seen.iter().all(|d| *d < Duration::from_secs(1)), "the route change took {seen:?} to be seen");
    let again = app.op(Method::PUT, &path(&routed), Some(json!({ "db_key": "second" }))).await.expect(200);
    assert!(again["version"].as_i64().unwrap() > first_version, "{again}");
    for base in &bases {
        until_routed(&app.client, base, &routed.owner_token, "second").await;
    }
    other.kill();
    let _ = std::fs::remove_file(secret);
}

/// The cache is really a cache: with the notification trigger off, a change behind its back is
/// not seen; with it on, the same change is seen at once.
#[tokio::test]
async fn the_route_cache_answers_from_memory_until_the_notification_drops_the_entry() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let store: kernel::StoreId = shop.store_id.parse().unwrap();
    let started = Instant::now();
    while !app.db.routes().is_listening() {
        assert!(started.elapsed() < Duration::from_secs(10), "the route cache never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sqlx::query(
        "INSERT INTO db_connections (db_key, kind, host, port, database_name, username, password_secret_ref)
         VALUES ('elsewhere', 'dedicated', '127.0.0.1', 9, 'd', 'u', '')",
    )
    .execute(&app.owner)
    .await
    .unwrap();
    let of = || app.db.routes().database_of(app.db.platform(), store);
    assert_eq!(of().await.unwrap(), None);

    sqlx::query("ALTER TABLE store_db_routing DISABLE TRIGGER route_notify").execute(&app.owner).await.unwrap();
    sqlx::query("INSERT INTO store_db_routing (store_id, db_key) VALUES ($1, 'elsewhere')")
        .bind(store)
        .execute(&app.owner)
        .await
        .unwrap();
    assert_eq!(of().await.unwrap(), None, "answered from memory");
    sqlx::query("ALTER TABLE store_db_routing ENABLE TRIGGER route_notify").execute(&app.owner).await.unwrap();

    sqlx::query("UPDATE store_db_routing SET db_key = 'elsewhere' WHERE store_id = $1")
        .bind(store)
        .execute(&app.owner)
        .await
        .unwrap();
    let changed = Instant::now();
    while of().await.unwrap().is_none() {
        assert!(changed.elapsed() < Duration::from_secs(1), "the notification did not drop the entry");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("route change seen after {:?}", changed.elapsed());
    app.call(Method::GET, &format!("/store/v1/stores/{}/products", shop.handle), None, None)
        .await
        .expect_problem(503, "store_database_unavailable");
}
