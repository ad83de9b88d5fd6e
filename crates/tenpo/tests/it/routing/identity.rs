//! Customer identity across two stores of one tenant on different servers (docs/ROUTING.md,
//! docs/CUSTOMERS.md): the identity map is the control database's, so the same shopper's orders
//! in a store on the main server and in one on the second server resolve to one customer, and a
//! merge moves both stores' records, on both servers.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::app_with_second;
use crate::checkout::{TeaShop, address, cart_with, checkout, tea_shop_in};
use crate::support::TestApp;

/// A guest order of `email` (with `phone` on the address) in the shop; its customer id, as the
/// store's staff API shows it.
async fn order_of(app: &TestApp, t: &TeaShop, email: &str, phone: &str) -> String {
    let cart = cart_with(app, &t.shop, &[(&t.tea, 1)]).await;
    let mut to = address("東京都");
    to["phone"] = json!(phone);
    let body = json!({ "email": email, "shipping_address": to, "payment_method": "bank_transfer" });
    let placed = checkout(app, &t.shop, &cart, body, None).await.expect(201);
    let id = placed["order"]["id"].as_str().unwrap();
    let order = app.get(&format!("/admin/v1/orders/{id}"), &t.shop.owner_token).await.expect(200);
    order["customer_id"].as_str().unwrap_or_else(|| panic!("no customer: {order}")).to_string()
}

/// `(customer_id, count)` of the store's orders, on one server.
async fn orders_by_customer(pool: &PgPool, store: &str) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT customer_id::text, count(*) FROM orders WHERE store_id = $1::uuid GROUP BY 1 ORDER BY 1")
        .bind(store)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn status_of(pool: &PgPool, customer: &str) -> Option<(String, Option<String>)> {
    sqlx::query_as("SELECT status, merged_into_id::text FROM customers WHERE id = $1::uuid")
        .bind(customer)
        .fetch_optional(pool)
        .await
        .unwrap()
}

async fn holder_of(pool: &PgPool, tenant: &str, email: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT customer_id::text FROM customer_identities
          WHERE tenant_id = $1::uuid AND identity_type = 'email' AND identity_value = $2",
    )
    .bind(tenant)
    .bind(email)
    .fetch_optional(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn one_shopper_in_stores_on_two_servers_is_one_customer_and_a_merge_moves_both_stores_records() {
    let (app, second, secret) = app_with_second(false).await;
    let a = app.shop().await;
    let n = uuid::Uuid::new_v4().simple().to_string();
    let b = app.store_in(&a.tenant_id, &format!("far-{}", &n[..10])).await;
    let path = format!("/platform/v1/tenants/{}/stores/{}/database", b.tenant_id, b.store_id);
    app.op(Method::PUT, &path, Some(json!({ "db_key": "second" }))).await.expect(200);
    let (ta, tb) = (tea_shop_in(&app, a.clone()).await, tea_shop_in(&app, b.clone()).await);

    // the same shopper (typed two ways) checks out in both stores: one customer
    let x_in_a = order_of(&app, &ta, "hanako@example.jp", "090-1111-2222").await;
    let x_in_b = order_of(&app, &tb, " Hanako@Example.JP ", "090-1111-2222").await;
    assert_eq!(x_in_a, x_in_b, "the same shopper in two stores on two servers");
    let x = x_in_a;
    // each store's staff see that customer, with the identity the tenant knows
    for shop in [&a, &b] {
        let c = app.get(&format!("/admin/v1/customers/{x}"), &shop.owner_token).await.expect(200);
        let emails: Vec<&Value> = c["identities"].as_array().unwrap().iter().filter(|i| i["type"] == "email").collect();
        assert_eq!(emails.len(), 1, "{c}");
        assert_eq!(emails[0]["value"], "hanako@example.jp");
    }
    // on the servers: the map on main, the store's copy under the same id on the second
    assert_eq!(orders_by_customer(&app.owner, &a.store_id).await, [(x.clone(), 1)]);
    assert_eq!(orders_by_customer(&second.owner, &b.store_id).await, [(x.clone(), 1)]);
    assert_eq!(holder_of(&app.owner, &a.tenant_id, "hanako@example.jp").await.as_deref(), Some(x.as_str()));
    assert_eq!(holder_of(&second.owner, &a.tenant_id, "hanako@example.jp").await.as_deref(), Some(x.as_str()));
    assert_eq!(orders_by_customer(&app.owner, &b.store_id).await, [], "the routed store's orders are not on main");

    // a second email of hers, in both stores: another customer, in both
    let y_in_a = order_of(&app, &ta, "hanako.work@example.jp", "080-3333-4444").await;
    let y_in_b = order_of(&app, &tb, "hanako.work@example.jp", "080-3333-4444").await;
    assert_eq!(y_in_a, y_in_b);
    let y = y_in_a;
    assert_ne!(x, y);

    // staff of the routed store merge them: both stores' records move, on both servers
    let merged = app
        .call(
            Method::POST,
            &format!("/admin/v1/customers/{x}/merge"),
            Some(&b.owner_token),
            Some(json!({ "duplicate_id": y })),
        )
        .await
        .expect(200);
    assert_eq!(merged["id"], x.as_str());
    assert_eq!(orders_by_customer(&app.owner, &a.store_id).await, [(x.clone(), 2)], "store A's orders on main");
    assert_eq!(orders_by_customer(&second.owner, &b.store_id).await, [(x.clone(), 2)], "store B's orders on second");
    for pool in [&app.owner, &second.owner] {
        assert_eq!(status_of(pool, &y).await, Some(("merged".into(), Some(x.clone()))));
        assert_eq!(holder_of(pool, &a.tenant_id, "hanako.work@example.jp").await.as_deref(), Some(x.as_str()));
        let profiles: i64 = sqlx::query_scalar("SELECT count(*) FROM customer_profiles WHERE customer_id = $1::uuid")
            .bind(&y)
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(profiles, 0, "the duplicate's profiles are combined into the survivor's");
    }
    // the duplicate's id answers the survivor in both stores, and the merge repeated is the same
    for shop in [&a, &b] {
        let c = app.get(&format!("/admin/v1/customers/{y}"), &shop.owner_token).await.expect(200);
        assert_eq!(c["id"], x.as_str(), "{c}");
    }
    app.call(
        Method::POST,
        &format!("/admin/v1/customers/{x}/merge"),
        Some(&a.owner_token),
        Some(json!({ "duplicate_id": y })),
    )
    .await
    .expect(200);

    // a later order of the merged email in either store is the survivor's
    assert_eq!(order_of(&app, &tb, "hanako.work@example.jp", "080-3333-4444").await, x);
    assert_eq!(order_of(&app, &ta, "hanako.work@example.jp", "080-3333-4444").await, x);
    let _ = std::fs::remove_file(secret);
}
