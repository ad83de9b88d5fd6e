//! Two API processes and two workers, all real `tenpo` processes, against the control database
//! and a dedicated one on the second server: a route change is seen by both API processes, and
//! a flash sale raced over both still grants exactly its units.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use super::{APP_PASSWORD, app_with_second};
use crate::inventory::stocked_variant;
use crate::support::process::{Served, WorkerProcess, free_port, tenpo};

/// The storefront's product count of `handle` as `base` answers it.
async fn products_at(client: &reqwest::Client, base: &str, handle: &str) -> usize {
    let res = client.get(format!("{base}/store/v1/stores/{handle}/products")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["items"].as_array().unwrap().len()
}

/// Sends the request `make` builds, again while the server answers 503 (`overloaded`: no
/// database connection freed up in time, which a loaded CI machine does answer), as a shopper's
/// client would, for at most a minute; any other answer is returned with its status and body.
async fn send_patiently(make: impl Fn() -> reqwest::RequestBuilder) -> (u16, Value) {
    let started = Instant::now();
    loop {
        let res = make().send().await.expect("the API process answers");
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if status != 503 || started.elapsed() > Duration::from_secs(60) {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A cart on `base`, one unit of `variant` added there, followed to its decision on `base`:
/// the decision's status code (201 held, 409 refused).
async fn shopper(client: &reqwest::Client, base: &str, handle: &str, variant: &str) -> u16 {
    let (status, cart) =
        send_patiently(|| client.post(format!("{base}/store/v1/stores/{handle}/carts")).json(&json!({}))).await;
    assert_eq!(status, 201, "opening a cart on {base}: {cart}");
    let (id, secret) = (cart["cart"]["id"].as_str().unwrap(), cart["secret"].as_str().unwrap());
    let (status, body) = send_patiently(|| {
        client
            .post(format!("{base}/store/v1/stores/{handle}/carts/{id}/items"))
            .header("x-cart-secret", secret)
            .json(&json!({ "variant_id": variant, "quantity": 1 }))
    })
    .await;
    if status != 202 {
        assert!(matches!(status, 201 | 409), "adding to the cart on {base}: {status} {body}");
        return status;
    }
    let url = body["poll_url"].as_str().unwrap();
    let started = Instant::now();
    loop {
        let (status, b) = send_patiently(|| client.get(format!("{base}{url}")).header("x-cart-secret", secret)).await;
        assert_eq!(status, 200, "polling {url}: {b}");
        if b["status"] != "queued" {
            return if b["status"] == "held" { 201 } else { 409 };
        }
        assert!(started.elapsed() < Duration::from_secs(60), "request {url} never decided");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn two_api_processes_and_two_workers_see_a_route_change_and_sell_exactly_the_units_of_a_flash_sale() {
    let (app, second, secret) = app_with_second(false).await;
    let env = [("TENPO_APP_DB_PASSWORD", APP_PASSWORD)];
    let api = [
        Served::start_with(&app, free_port(), &["--no-worker"], &env).await,
        Served::start_with(&app, free_port(), &["--no-worker"], &env).await,
    ];
    let mut workers = [WorkerProcess::start(&app, &env), WorkerProcess::start(&app, &env)];
    let bases: Vec<String> = api.iter().map(|s| s.base.clone()).collect();

    let shop = app.shop().await;
    // both processes have served the store from main (and cached its route)
    for base in &bases {
        assert_eq!(products_at(&app.client, base, &shop.handle).await, 0);
    }
    let path = format!("/platform/v1/tenants/{}/stores/{}/database", shop.tenant_id, shop.store_id);
    let route = app.op(Method::PUT, &path, Some(json!({ "db_key": "second" }))).await.expect(200);
    assert_eq!(route["db_key"], "second");

    const UNITS: i32 = 25;
    const SHOPPERS: usize = 120;
    let variant = stocked_variant(&app, &shop, UNITS, true, None).await;
    // the product exists only on the second server: both processes list it once they follow
    // the route change
    for base in &bases {
        let started = Instant::now();
        while products_at(&app.client, base, &shop.handle).await != 1 {
            assert!(started.elapsed() < Duration::from_secs(1), "{base} did not follow the route within a second");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!("{base} serves the store from the second server after {:?}", started.elapsed());
    }
    let on = |pool: &sqlx::PgPool, table: &str| {
        let (pool, sql) = (pool.clone(), format!("SELECT count(*) FROM {table} WHERE variant_id = '{variant}'"));
        async move { sqlx::query_scalar::<_, i64>(&sql).fetch_one(&pool).await.unwrap() }
    };
    assert_eq!((on(&app.owner, "inventory_stocks").await, on(&second.owner, "inventory_stocks").await), (0, 1));

    // the shoppers alternate between the two API processes; the two workers decide
    let client = Arc::new(reqwest::Client::builder().timeout(Duration::from_secs(90)).build().unwrap());
    let handle = Arc::new(shop.handle.clone());
    let variant_id = Arc::new(variant.clone());
    let answers = join_all((0..SHOPPERS).map(|i| {
        let (client, base, handle, variant) =
            (client.clone(), bases[i % 2].clone(), handle.clone(), variant_id.clone());
        tokio::spawn(async move { (i % 2, shopper(&client, &base, &handle, &variant).await) })
    }))
    .await;
    let answers: Vec<(usize, u16)> = answers.into_iter().map(|a| a.unwrap()).collect();
    let granted = answers.iter().filter(|(_, s)| *s == 201).count();
    let refused = answers.iter().filter(|(_, s)| *s == 409).count();
    assert_eq!((granted, refused), (UNITS as usize, SHOPPERS - UNITS as usize), "{answers:?}");
    let by_process = [0, 1].map(|p| answers.iter().filter(|(q, s)| *q == p && *s == 201).count());
    eprintln!("granted {granted} of {SHOPPERS} ({by_process:?} by process), refused {refused}");
    for w in workers.iter_mut() {
        assert!(w.running(), "a worker exited");
    }

    let (stock, reserved): (i64, i64) = sqlx::query_as(&format!(
        "SELECT sum(stock)::bigint, sum(reserved)::bigint FROM inventory_stocks WHERE variant_id = '{variant}'"
    ))
    .fetch_one(&second.owner)
    .await
    .unwrap();
    assert_eq!((stock, reserved), (UNITS as i64, UNITS as i64));
    assert_eq!(on(&second.owner, "inventory_reservation_requests").await, SHOPPERS as i64);
    assert_eq!(on(&app.owner, "inventory_reservation_requests").await, 0, "a request recorded on main");
    let held: i64 = sqlx::query_scalar(&format!(
        "SELECT coalesce(sum(quantity), 0)::bigint FROM inventory_reservations WHERE variant_id = '{variant}' AND status = 'active'"
    ))
    .fetch_one(&second.owner)
    .await
    .unwrap();
    assert_eq!(held, UNITS as i64);

    let out = tenpo(&app).args(["inventory", "check"]).env("TENPO_APP_DB_PASSWORD", APP_PASSWORD).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    drop(workers);
    drop(api);
    let _ = std::fs::remove_file(secret);
}
