//! Staff of one store see only their store's profile; erasure removes personal data and keeps
//! order totals.

use serde_json::json;
use uuid::Uuid;

use super::{create, detail, id, sibling, uuid};
use crate::support::TestApp;

#[tokio::test]
async fn staff_of_one_store_never_see_another_stores_profile() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let s1 = app.shop().await;
    let s2 = sibling(&app, &s1).await;
    let shared =
        id(&create(&app, &s1, json!({ "email": "both@example.jp", "name": "At one", "notes": "secret of one" })).await);
    create(&app, &s2, json!({ "email": "both@example.jp", "name": "At two", "notes": "secret of two" })).await;
    let only_one = id(&create(&app, &s1, json!({ "email": "one@example.jp", "name": "Only one" })).await);

    let seen = detail(&app, &s2, &shared).await;
    assert_eq!(seen["profile"]["name"], "At two");
    let text = seen.to_string();
    assert!(!text.contains("secret of one") && !text.contains("At one"), "{text}");
    // a customer the store never saw is not there, by id, by list or by search
    app.get(&format!("/admin/v1/customers/{only_one}"), &s2.owner_token)
        .await
        .expect_problem(404, "customer_not_found");
    app.get(&format!("/admin/v1/customers/{only_one}/addresses"), &s2.owner_token)
        .await
        .expect_problem(404, "customer_not_found");
    app.patch(&format!("/admin/v1/customers/{only_one}"), &s2.owner_token, json!({ "name": "x" }))
        .await
        .expect_problem(404, "customer_not_found");
    let list = app.get("/admin/v1/customers?q=one", &s2.owner_token).await.expect(200);
    assert_eq!(list["items"], json!([]));
    let list = app.get("/admin/v1/customers", &s2.owner_token).await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["name"], "At two");
    // another tenant sees nothing
    let other = app.shop().await;
    app.get(&format!("/admin/v1/customers/{shared}"), &other.owner_token)
        .await
        .expect_problem(404, "customer_not_found");
    // searching works within the store: name, kana, email
    let list = app.get("/admin/v1/customers?q=Only", &s1.owner_token).await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let list = app.get("/admin/v1/customers?q=both%40example", &s1.owner_token).await.expect(200);
    assert_eq!(list["items"][0]["id"], shared.as_str());
}

#[tokio::test]
async fn the_customer_list_pages_with_a_cursor() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    for i in 0..5 {
        create(&app, &shop, json!({ "email": format!("c{i}@example.jp"), "name_kana": "すずき" })).await;
    }
    let mut seen = Vec::new();
    let mut path = "/admin/v1/customers?limit=2&q=%E3%82%B9%E3%82%BA%E3%82%AD".to_string();
    loop {
        let page = app.get(&path, &shop.owner_token).await.expect(200);
        seen.extend(page["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/admin/v1/customers?limit=2&q=%E3%82%B9%E3%82%BA%E3%82%AD&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen);
}

#[tokio::test]
async fn erasure_removes_personal_data_and_keeps_order_totals() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let s1 = app.shop().await;
    let s2 = sibling(&app, &s1).await;
    let customer = id(&create(
        &app,
        &s1,
        json!({ "email": "erase@example.jp", "phone": "090-7777-8888", "name": "消す 人", "notes": "likes tea",
                "preferences": { "dm": true } }),
    )
    .await);
    create(&app, &s2, json!({ "email": "erase@example.jp", "name": "At two" })).await;
    app.post(
        &format!("/admin/v1/customers/{customer}/addresses"),
        &s1.owner_token,
        json!({ "name": "消す 人", "postal_code": "100-0001", "prefecture": "13", "city": "千代田区", "line1": "1-1" }),
    )
    .await
    .expect(201);
    let (t, s) = (uuid(&s1.tenant_id), uuid(&s1.store_id));
    let order = |status: &'static str, number: i64| {
        let owner = app.owner.clone();
        let customer = uuid(&customer);
        async move {
            let id: Uuid = sqlx::query_scalar(
                "INSERT INTO orders (tenant_id, store_id, order_number, customer_id, email, status, currency,
                                     subtotal_amount, shipping_fee_amount, total_amount, payment_method, token_hash)
                 VALUES ($1, $2, $3, $4, 'erase@example.jp', $5, 'JPY', 5000, 800, 5800, 'bank_transfer', '\\x00')
                 RETURNING id",
            )
            .bind(t)
            .bind(s)
            .bind(number)
            .bind(customer)
            .bind(status)
            .fetch_one(&owner)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO order_addresses (tenant_id, order_id, type, name, postal_code, prefecture, prefecture_code,
                                              city, line1, phone)
                 VALUES ($1, $2, 'shipping', '消す 人', '100-0001', '東京都', 13, '千代田区', '1-1', '+819077778888')",
            )
            .bind(t)
            .bind(id)
            .execute(&owner)
            .await
            .unwrap();
            id
        }
    };
    let done = order("completed", 1001).await;
    let open = order("processing", 1002).await;

    // admins may not erase; an order still being fulfilled blocks erasure
    let (_, admin) = app.member(&s1, "admin").await;
    app.delete(&format!("/admin/v1/customers/{customer}"), &admin).await.expect_problem(403, "permission_denied");
    app.delete(&format!("/admin/v1/customers/{customer}"), &s1.owner_token)
        .await
        .expect_problem(409, "customer_has_open_orders");
    sqlx::query("UPDATE orders SET status = 'delivered' WHERE id = $1").bind(open).execute(&app.owner).await.unwrap();
    app.delete(&format!("/admin/v1/customers/{customer}"), &s1.owner_token).await.expect(204);

    let c = uuid(&customer);
    for table in ["customer_identities", "customer_addresses"] {
        assert_eq!(app.count(&format!("SELECT count(*) FROM {table} WHERE customer_id = '{c}'")).await, 0, "{table}");
    }
    // every personal field of both stores' profiles is empty
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws('|', name, name_kana, email, phone, notes, preferences::text)
           FROM customer_profiles WHERE customer_id = $1",
    )
    .bind(c)
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(left, ["||{}", "||{}"]);
    let orders: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
        "SELECT id, email, subtotal_amount, total_amount FROM orders WHERE customer_id = $1 ORDER BY id",
    )
    .bind(c)
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(orders, [(done, String::new(), 5000, 5800), (open, String::new(), 5000, 5800)]);
    let addresses: Vec<(String, String, String, Option<String>, String)> =
        sqlx::query_as("SELECT name, line1, postal_code, phone, prefecture FROM order_addresses WHERE tenant_id = $1")
            .bind(t)
            .fetch_all(&app.owner)
            .await
            .unwrap();
    for a in addresses {
        assert_eq!(a, ("(erased)".into(), "(erased)".into(), "100-0001".into(), None, "東京都".into()));
    }
    let leaked: i64 = app
        .count(&format!(
            "SELECT count(*) FROM outbox_events WHERE tenant_id = '{t}'
               AND (payload_json::text LIKE '%erase@example.jp%' OR payload_json::text LIKE '%消す%')"
        ))
        .await;
    assert_eq!(leaked, 0, "customer events carry no personal data");
    app.get(&format!("/admin/v1/customers/{customer}"), &s1.owner_token)
        .await
        .expect_problem(404, "customer_not_found");
    // the email is free again: it now resolves to a new customer
    let again = create(&app, &s1, json!({ "email": "erase@example.jp" })).await;
    assert_ne!(id(&again), customer);
}

#[tokio::test]
async fn staff_may_read_customers_but_not_change_them() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let customer = id(&create(&app, &shop, json!({ "email": "r@example.jp" })).await);
    let (_, staff) = app.member(&shop, "staff").await;
    app.get("/admin/v1/customers", &staff).await.expect(200);
    app.get(&format!("/admin/v1/customers/{customer}"), &staff).await.expect(200);
    app.get("/admin/v1/store/customer-sync", &staff).await.expect(200);
    app.post("/admin/v1/customers", &staff, json!({ "email": "x@example.jp" }))
        .await
        .expect_problem(403, "permission_denied");
    app.patch(&format!("/admin/v1/customers/{customer}"), &staff, json!({ "name": "x" }))
        .await
        .expect_problem(403, "permission_denied");
    app.call(
        reqwest::Method::PUT,
        "/admin/v1/store/customer-sync",
        Some(&staff),
        Some(json!({ "customer_sync_enabled": true })),
    )
    .await
    .expect_problem(403, "permission_denied");
    // an email another customer holds cannot be given to this one
    create(&app, &shop, json!({ "email": "taken@example.jp" })).await;
    app.patch(&format!("/admin/v1/customers/{customer}"), &shop.owner_token, json!({ "email": "Taken@Example.jp" }))
        .await
        .expect_problem(409, "identity_taken");
}
