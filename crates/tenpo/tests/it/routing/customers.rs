//! Store sync and erasure across databases (docs/ROUTING.md, docs/CUSTOMERS.md): a profile edited
//! in a store on the main server reaches the same customer's profile in a synced store on the
//! second server (and back), once, a redelivery changing nothing; an erasure asked in one store
//! leaves none of the shopper's personal data on either server.

use std::sync::Arc;

use customers::sync::StoreSync;
use events::{Relay, RelayOptions};
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::{app_with_second, tables_containing};
use crate::checkout::{address, cart_with, checkout, tea_shop_in};
use crate::customers::{create, id, set_sync};
use crate::support::{Shop, TestApp};

/// A store of the shop's tenant routed to the second server.
async fn far_store(app: &TestApp, shop: &Shop) -> Shop {
    let n = uuid::Uuid::new_v4().simple().to_string();
    let far = app.store_in(&shop.tenant_id, &format!("far-{}", &n[..10])).await;
    let path = format!("/platform/v1/tenants/{}/stores/{}/database", far.tenant_id, far.store_id);
    app.op(Method::PUT, &path, Some(json!({ "db_key": "second" }))).await.expect(200);
    far
}

/// The relay of one database (`None`: the main one) with store sync, as the worker runs it.
async fn relay(app: &TestApp, key: Option<&str>) -> Relay {
    let db = app.db.database(key).await.unwrap();
    Relay::new(db, RelayOptions::default()).with_consumer(Arc::new(StoreSync::new(app.db.clone())))
}

async fn drain(app: &TestApp) {
    for key in [None, Some("second")] {
        let relay = relay(app, key).await;
        while relay.run_once().await.unwrap() > 0 {}
    }
}

async fn profile(pool: &PgPool, shop: &Shop, customer: &str) -> (String, Option<String>, i64) {
    sqlx::query_as(
        "SELECT name, phone, version FROM customer_profiles WHERE store_id = $1::uuid AND customer_id = $2::uuid",
    )
    .bind(&shop.store_id)
    .bind(customer)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn synced_events(pool: &PgPool, shop: &Shop) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM outbox_events WHERE event_type = 'customer.profile_synced' AND store_id = $1::uuid",
    )
    .bind(&shop.store_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn store_sync_reaches_a_synced_store_on_the_other_server_once_and_comes_back() {
    let (app, second, secret) = app_with_second(false).await;
    let near = app.shop().await;
    let far = far_store(&app, &near).await;
    set_sync(&app, &near, true).await;
    set_sync(&app, &far, true).await;
    let customer = id(&create(&app, &near, json!({ "email": "sync@example.jp", "name": "Before" })).await);
    let same = id(&create(&app, &far, json!({ "email": "sync@example.jp" })).await);
    assert_eq!(customer, same, "one customer in both stores");
    drain(&app).await;
    assert_eq!(profile(&second.owner, &far, &customer).await.0, "Before", "the near store's name reached the far one");

    // an edit in the store on the main server reaches the store on the second server, once
    let (_, _, far_version) = profile(&second.owner, &far, &customer).await;
    let synced = synced_events(&second.owner, &far).await;
    app.patch(
        &format!("/admin/v1/customers/{customer}"),
        &near.owner_token,
        json!({ "name": "After", "phone": "090-2222-3333" }),
    )
    .await
    .expect(200);
    drain(&app).await;
    let after = profile(&second.owner, &far, &customer).await;
    assert_eq!(after, ("After".into(), Some("+819022223333".into()), far_version + 1));
    assert_eq!(synced_events(&second.owner, &far).await, synced + 1, "customer.profile_synced in the far store");

    // the event delivered again (a relay that died before marking it) changes nothing there
    let event: uuid::Uuid = sqlx::query_scalar(
        "SELECT id FROM outbox_events WHERE event_type = 'customer.profile_updated' AND store_id = $1::uuid
          ORDER BY created_at DESC LIMIT 1",
    )
    .bind(&near.store_id)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    // as if the far store's write had committed and the relay's own transaction had not
    sqlx::query("DELETE FROM processed_events WHERE consumer = $1 AND event_id = $2")
        .bind(customers::sync::CONSUMER)
        .bind(event)
        .execute(&app.owner)
        .await
        .unwrap();
    sqlx::query("UPDATE outbox_events SET status = 'pending', available_at = now(), locked_until = NULL WHERE id = $1")
        .bind(event)
        .execute(&app.owner)
        .await
        .unwrap();
    assert_eq!(relay(&app, None).await.run_once().await.unwrap(), 1);
    assert_eq!(profile(&second.owner, &far, &customer).await, after);
    assert_eq!(synced_events(&second.owner, &far).await, synced + 1);

    // an edit in the far store comes back to the near one
    app.patch(&format!("/admin/v1/customers/{customer}"), &far.owner_token, json!({ "name": "From far" }))
        .await
        .expect(200);
    drain(&app).await;
    assert_eq!(profile(&app.owner, &near, &customer).await.0, "From far");
    assert_eq!(profile(&second.owner, &far, &customer).await.0, "From far");
    // nothing ping-pongs: nothing is left to deliver on either server
    drain(&app).await;
    for key in [None, Some("second")] {
        assert_eq!(relay(&app, key).await.run_once().await.unwrap(), 0);
    }
    let _ = std::fs::remove_file(secret);
}

/// A completed order of the shopper in the shop, with a receipt made out to `addressee`.
async fn finished_order(app: &TestApp, pool: &PgPool, shop: &Shop, tea: &str, addressee: &str) -> String {
    let cart = cart_with(app, shop, &[(tea, 1)]).await;
    let mut to = address("東京都");
    to["name"] = json!("消す 花子");
    to["phone"] = json!("090-7777-8888");
    let body = json!({ "email": "erase.me@example.jp", "shipping_address": to, "payment_method": "bank_transfer" });
    let placed = checkout(app, shop, &cart, body, None).await.expect(201);
    let order = placed["order"]["id"].as_str().unwrap().to_string();
    sqlx::query("UPDATE orders SET status = 'delivered' WHERE id = $1::uuid").bind(&order).execute(pool).await.unwrap();
    sqlx::query(
        "INSERT INTO order_receipts (tenant_id, order_id, addressee, purpose)
         SELECT tenant_id, id, $2, 'お茶代' FROM orders WHERE id = $1::uuid",
    )
    .bind(&order)
    .bind(addressee)
    .execute(pool)
    .await
    .unwrap();
    order
}

#[tokio::test]
async fn an_erasure_leaves_nothing_of_the_shopper_on_either_server() {
    let (app, second, secret) = app_with_second(false).await;
    let near = app.shop().await;
    let far = far_store(&app, &near).await;
    let (tn, tf) = (tea_shop_in(&app, near.clone()).await, tea_shop_in(&app, far.clone()).await);
    finished_order(&app, &app.owner, &near, &tn.tea, "株式会社消す商事").await;
    finished_order(&app, &second.owner, &far, &tf.tea, "株式会社消す商事").await;
    let customer: String = sqlx::query_scalar("SELECT customer_id::text FROM orders WHERE store_id = $1::uuid")
        .bind(&near.store_id)
        .fetch_one(&app.owner)
        .await
        .unwrap();
    let personal = ["erase.me@example.jp", "消す", "+819077778888"];
    for (pool, what) in [(&app.owner, "main"), (&second.owner, "second")] {
        assert!(!tables_containing(pool, "消す").await.is_empty(), "the shopper's data is on {what} first");
    }

    // the second server's database taken out of use: 503, and nothing changes anywhere
    let path = "/platform/v1/databases/second";
    app.op(Method::PATCH, path, Some(json!({ "status": "inactive" }))).await.expect(200);
    app.delete(&format!("/admin/v1/customers/{customer}"), &near.owner_token)
        .await
        .expect_problem(503, "store_database_unavailable");
    let status: String = sqlx::query_scalar("SELECT status FROM customers WHERE id = $1::uuid")
        .bind(&customer)
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert_eq!(status, "active", "nothing erased while a database did not answer");
    app.op(Method::PATCH, path, Some(json!({ "status": "active" }))).await.expect(200);

    // asked in the near store: erased on both servers
    app.delete(&format!("/admin/v1/customers/{customer}"), &near.owner_token).await.expect(204);
    for (pool, what) in [(&app.owner, "main"), (&second.owner, "second")] {
        for needle in personal {
            assert_eq!(tables_containing(pool, needle).await, Vec::<String>::new(), "{needle:?} left on {what}");
        }
        let (status, receipts): (String, Vec<String>) = sqlx::query_as(
            "SELECT c.status, ARRAY(SELECT r.addressee FROM order_receipts r JOIN orders o ON o.id = r.order_id
                                      WHERE o.customer_id = c.id)
               FROM customers c WHERE c.id = $1::uuid",
        )
        .bind(&customer)
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!((status.as_str(), receipts), ("erased", vec!["(erased)".to_string()]), "on {what}");
    }
    // the far store's staff no longer find the customer; asked again, the erasure is done
    app.get(&format!("/admin/v1/customers/{customer}"), &far.owner_token)
        .await
        .expect_problem(404, "customer_not_found");
    app.delete(&format!("/admin/v1/customers/{customer}"), &far.owner_token).await.expect(204);
    let _ = std::fs::remove_file(secret);
}
