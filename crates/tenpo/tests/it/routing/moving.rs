//! The online move (`tenpo store move`): a store moved while shoppers check out keeps every
//! order that got a 201, exactly once, in the target; a move killed mid-copy resumes; a frozen
//! store refuses writes and serves reads; an aborted move leaves the store on its source.

use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use super::{APP_PASSWORD, app_with_second};
use crate::catalog::active_product;
use crate::checkout::{address, tea_shop_in};
use crate::support::process::tenpo;
use crate::support::{Shop, TestApp};

fn product_body(title: &str, sku: &str) -> Value {
    json!({ "title": title, "status": "active",
            "variants": [{ "sku": sku, "price": { "amount": 100, "currency": "JPY" }, "inventory_quantity": 1 }] })
}

/// `tenpo store move` with its test pauses: after each copied table, and holding the freeze.
fn mover(app: &TestApp, args: &[&str], pauses: (u64, u64)) -> std::process::Command {
    let mut cmd = tenpo(app);
    cmd.args(["store", "move"])
        .args(args)
        .env("TENPO_APP_DB_PASSWORD", APP_PASSWORD)
        .env("TENPO_MOVE_COPY_PAUSE_MS", pauses.0.to_string())
        .env("TENPO_MOVE_FREEZE_HOLD_MS", pauses.1.to_string())
        // copy batches of a few rows, so a table's copy takes several
        .env("TENPO_MOVE_COPY_BATCH", "3");
    cmd
}

fn spawn_mover(app: &TestApp, args: &[&str], pauses: (u64, u64)) -> Child {
    mover(app, args, pauses).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn move_state(app: &TestApp, shop: &Shop) -> Option<String> {
    sqlx::query_scalar(&format!(
        "SELECT state FROM store_moves WHERE store_id = '{}' ORDER BY created_at DESC LIMIT 1",
        shop.store_id
    ))
    .fetch_optional(&app.owner)
    .await
    .unwrap()
}

async fn until_state(app: &TestApp, shop: &Shop, state: &str) {
    let started = Instant::now();
    while move_state(app, shop).await.as_deref() != Some(state) {
        assert!(started.elapsed() < Duration::from_secs(60), "the move never reached {state}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One shopper's checkout, retried while the store is frozen (503 `store_moving`): the order's
/// id on a 201. Any other answer fails the test.
async fn shop_once(app: &TestApp, shop: &Shop, tea: &str, n: usize) -> String {
    let base = format!("/store/v1/stores/{}", shop.handle);
    let key = format!("load-{n}-{}", uuid::Uuid::new_v4());
    let mut step = 0;
    let mut cart = (String::new(), String::new());
    loop {
        let res = match step {
            0 => app.client.post(app.url(&format!("{base}/carts"))).json(&json!({})).send().await.unwrap(),
            1 => app
                .client
                .post(app.url(&format!("{base}/carts/{}/items", cart.0)))
                .header("x-cart-secret", &cart.1)
                .json(&json!({ "variant_id": tea, "quantity": 1 }))
                .send()
                .await
                .unwrap(),
            _ => app
                .client
                .post(app.url(&format!("{base}/carts/{}/checkout", cart.0)))
                .header("x-cart-secret", &cart.1)
                .header("idempotency-key", &key)
                .json(&json!({ "email": format!("load{n}@example.jp"), "shipping_address": address("東京都"),
                               "payment_method": "bank_transfer" }))
                .send()
                .await
                .unwrap(),
        };
        let answer = TestApp::read(res).await;
        if answer.status == 503 && answer.body["code"] == "store_moving" {
            assert_eq!(answer.headers.get("retry-after").map(|v| v.to_str().unwrap()), Some("1"));
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let body = answer.expect(201);
        match step {
            0 => cart = (body["cart"]["id"].as_str().unwrap().into(), body["secret"].as_str().unwrap().into()),
            1 => {}
            _ => return body["order"]["id"].as_str().unwrap().into(),
        }
        step += 1;
    }
}

#[tokio::test]
async fn a_store_moved_under_load_keeps_every_order_once_gapless_and_its_stock_exact() {
    let (app, second, secret) = app_with_second(true).await;
    let app = Arc::new(app);
    let shop = app.shop().await;
    let t = tea_shop_in(&app, shop.clone()).await;
    let shop = Arc::new(shop);
    let tea = Arc::new(t.tea.clone());
    // a few orders before the move
    let mut orders = Vec::new();
    for n in 0..3 {
        orders.push(shop_once(&app, &shop, &tea, n).await);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|w| {
            let (app, shop, tea, stop) = (app.clone(), shop.clone(), tea.clone(), stop.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                let mut n = 100 * (w + 1);
                while !stop.load(Ordering::Relaxed) {
                    mine.push(shop_once(&app, &shop, &tea, n).await);
                    n += 1;
                }
                mine
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let handle = shop.handle.clone();
    let cmd = mover(&app, &["--store", &handle, "--to", "second", "--grace-secs", "0"], (0, 0));
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = cmd;
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    let progress = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{progress}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for l in load {
        orders.extend(l.await.unwrap());
    }
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["state"], "done", "{report}");
    let freeze = report["freeze_ms"].as_i64().unwrap();
    eprintln!("{progress}");
    eprintln!("moved under load: {} orders placed, freeze {freeze} ms", orders.len());

    // every 201 order is in the target exactly once, none left on main
    let ids = orders;
    let in_target: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE id::text = ANY($1)")
        .bind(&ids)
        .fetch_one(&second.owner)
        .await
        .unwrap();
    assert_eq!(in_target, ids.len() as i64);
    let store = &shop.store_id;
    assert_eq!(
        count(&second.owner, &format!("SELECT count(*) FROM orders WHERE store_id = '{store}'")).await,
        ids.len() as i64
    );
    for table in ["orders", "carts", "products", "inventory_stocks", "outbox_events", "idempotency_keys"] {
        let left = count(&app.owner, &format!("SELECT count(*) FROM {table} WHERE store_id = '{store}'")).await;
        assert_eq!(left, 0, "{table} rows of the moved store left on main");
    }
    // order numbers gapless
    let numbers: Vec<i64> =
        sqlx::query_scalar(&format!("SELECT order_number FROM orders WHERE store_id = '{store}' ORDER BY 1"))
            .fetch_all(&second.owner)
            .await
            .unwrap();
    let first = numbers[0];
    assert_eq!(numbers, (first..first + numbers.len() as i64).collect::<Vec<_>>(), "order numbers with gaps");
    // no reservation leaked, stock exact: every unit sold is an order's
    let (stock, reserved): (i64, i64) = sqlx::query_as(&format!(
        "SELECT sum(stock)::bigint, sum(reserved)::bigint FROM inventory_stocks WHERE variant_id = '{tea}'"
    ))
    .fetch_one(&second.owner)
    .await
    .unwrap();
    let active: i64 = count(&second.owner, &format!("SELECT coalesce(sum(quantity), 0)::bigint FROM inventory_reservations WHERE variant_id = '{tea}' AND status = 'active'")).await;
    assert_eq!(reserved, active, "reserved units without an active reservation");
    assert!(stock + ids.len() as i64 >= 100, "stock {stock} after {} orders", ids.len());
    let (ok, text) = inventory_check_routed(&app);
    assert!(ok, "{text}");
    // the store goes on in its new database: a write lands there
    let id = shop_once(&app, &shop, &tea, 9999).await;
    assert_eq!(count(&second.owner, &format!("SELECT count(*) FROM orders WHERE id = '{id}'")).await, 1);
    let _ = std::fs::remove_file(secret);
}

fn inventory_check_routed(app: &TestApp) -> (bool, String) {
    let out = tenpo(app).args(["inventory", "check"]).env("TENPO_APP_DB_PASSWORD", APP_PASSWORD).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn a_move_killed_mid_copy_resumes_and_a_frozen_then_aborted_move_leaves_the_store_on_its_source() {
    let (app, second, secret) = app_with_second(false).await;
    let shop = app.shop().await;
    let t = tea_shop_in(&app, shop.clone()).await;
    let first = shop_once(&app, &shop, &t.tea, 1).await;
    let store = shop.store_id.clone();
    let products = |pool: &sqlx::PgPool| {
        let (pool, sql) = (pool.clone(), format!("SELECT count(*) FROM products WHERE store_id = '{store}'"));
        async move { count(&pool, &sql).await }
    };
    let listed = || async {
        let body =
            app.call(Method::GET, &format!("/store/v1/stores/{}/products", shop.handle), None, None).await.expect(200);
        body["items"].as_array().unwrap().len()
    };

    // frozen: writes answer 503 store_moving with Retry-After, reads go on; aborted: the store
    // serves writes again from main and the target keeps none of its rows
    let mut frozen = spawn_mover(&app, &["--store", &shop.handle, "--to", "second"], (0, 5000));
    until_state(&app, &shop, "frozen").await;
    let res = app
        .client
        .post(app.url("/admin/v1/products"))
        .bearer_auth(&shop.owner_token)
        .json(&product_body("While frozen", "FROZEN"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string()), Some("1".into()));
    TestApp::read(res).await.expect_problem(503, "store_moving");
    let before = listed().await;
    assert!(before > 0);
    app.get(&format!("/admin/v1/orders/{first}"), &shop.owner_token).await.expect(200);
    frozen.kill().unwrap();
    frozen.wait().unwrap();
    let out = mover(&app, &["--store", &shop.handle, "--abort"], (0, 0)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(move_state(&app, &shop).await.as_deref(), Some("aborted"));
    let started = Instant::now();
    loop {
        let answer = app.post("/admin/v1/products", &shop.owner_token, product_body("After abort", "ABORT")).await;
        if answer.status == 201 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(1), "writes still refused after the abort: {:?}", answer.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let on_main = products(&app.owner).await;
    assert_eq!(on_main as usize, before + 1);
    assert_eq!(products(&second.owner).await, 0, "the aborted move left rows in the target");

    // killed mid-copy: the store keeps serving from main, and the move run again completes
    let mut killed = spawn_mover(&app, &["--store", &shop.handle, "--to", "second"], (200, 0));
    let started = Instant::now();
    while products(&second.owner).await == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the copy never reached products");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert_eq!(move_state(&app, &shop).await.as_deref(), Some("copying"));
    active_product(&app, &shop, "Written mid-move", &[("MID", 100, 1)]).await;
    let out = mover(&app, &["--store", &shop.handle, "--to", "second", "--grace-secs", "0"], (0, 0)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["state"], "done", "{report}");
    assert_eq!(products(&app.owner).await, 0);
    assert_eq!(products(&second.owner).await, on_main + 1);
    let started = Instant::now();
    while listed().await != before + 2 {
        assert!(started.elapsed() < Duration::from_secs(2), "the moved store is not served from its new database");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.get(&format!("/admin/v1/orders/{first}"), &shop.owner_token).await.expect(200);
    let (ok, text) = inventory_check_routed(&app);
    assert!(ok, "{text}");
    let _ = std::fs::remove_file(secret);
}

/// The workers leave a frozen store alone (docs/ROUTING.md "Online move"): a hold that falls due
/// and an outbox event waiting while the store is frozen are not touched on the source, so
/// nothing is written there that the switch would lose; after the switch the target's workers
/// expire the hold, its unit returned once, and deliver the event.
#[tokio::test]
async fn what_falls_due_while_a_store_is_frozen_is_done_once_in_the_target_after_the_switch() {
    let (app, second, secret) = app_with_second(true).await;
    let shop = app.shop().await;
    let t = tea_shop_in(&app, shop.clone()).await;
    let cart = crate::checkout::cart_with(&app, &shop, &[(&t.tea, 1)]).await;
    let store = shop.store_id.clone();
    let hold = format!("SELECT status FROM inventory_reservations WHERE cart_id = '{}'", cart.0);
    let event: uuid::Uuid = sqlx::query_scalar(&format!(
        "SELECT id FROM outbox_events WHERE store_id = '{store}' AND event_type = 'product.created' LIMIT 1"
    ))
    .fetch_one(&app.owner)
    .await
    .unwrap();
    let started = Instant::now();
    while count(
        &app.owner,
        &format!("SELECT count(*) FROM outbox_events WHERE store_id = '{store}' AND status <> 'published'"),
    )
    .await
        > 0
    {
        assert!(started.elapsed() < Duration::from_secs(30), "the store's events were never published");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reserved = format!("SELECT sum(reserved)::bigint FROM inventory_stocks WHERE variant_id = '{}'", t.tea);
    assert_eq!(count(&app.owner, &reserved).await, 1);

    let mut mover = spawn_mover(&app, &["--store", &shop.handle, "--to", "second", "--grace-secs", "0"], (0, 4000));
    until_state(&app, &shop, "frozen").await;
    // while frozen: the hold falls due, and the event waits to be delivered again (as after a
    // relay that died before marking it)
    sqlx::raw_sql(&format!(
        "UPDATE inventory_reservations SET expires_at = now() - interval '1 second' WHERE cart_id = '{}';
         DELETE FROM processed_events WHERE event_id = '{event}';
         UPDATE outbox_events SET status = 'pending', available_at = now(), locked_until = NULL, published_at = NULL
          WHERE id = '{event}'",
        cart.0
    ))
    .execute(&app.owner)
    .await
    .unwrap();
    // the sweep runs every second and the relay is woken at once: both leave the store alone
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let source: (String, String, i64) = sqlx::query_as(&format!(
        "SELECT ({hold}), (SELECT status FROM outbox_events WHERE id = '{event}'),
                (SELECT count(*) FROM processed_events WHERE event_id = '{event}')"
    ))
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(source, ("active".into(), "pending".into(), 0), "the frozen store was written on its source");
    assert_eq!(move_state(&app, &shop).await.as_deref(), Some("frozen"));
    let status = tokio::task::spawn_blocking(move || mover.wait().unwrap()).await.unwrap();
    assert!(status.success());

    // in the target, once: the hold expired and its unit returned, the event delivered
    let started = Instant::now();
    loop {
        let done: (Option<String>, String, i64) = sqlx::query_as(&format!(
            "SELECT ({hold}), (SELECT status FROM outbox_events WHERE id = '{event}'),
                    (SELECT count(*) FROM processed_events WHERE event_id = '{event}')"
        ))
        .fetch_one(&second.owner)
        .await
        .unwrap();
        if done.0.as_deref() == Some("expired") && done.1 == "published" {
            assert!(done.2 >= 1, "published without a consumer's record");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "not done in the target: {done:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&second.owner, &reserved).await, 0, "the expired hold's unit is returned once");
    assert_eq!(
        count(&app.owner, &format!("SELECT count(*) FROM inventory_reservations WHERE store_id = '{store}'")).await,
        0
    );
    let (ok, text) = inventory_check_routed(&app);
    assert!(ok, "{text}");
    let _ = std::fs::remove_file(secret);
}
