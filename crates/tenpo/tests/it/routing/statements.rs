//! A mall routed to the second server: the operator's vendor statements (API and CLI) are read
//! and closed in the store's database, where its orders and its staff's statement pages are.

use reqwest::Method;
use serde_json::{Value, json};

use super::{APP_PASSWORD, app_with_second};
use crate::mall::{Vendor, mall, order, product, shipment_of, vendor};
use crate::support::TestApp;

async fn deliver(app: &TestApp, order: &Value, v: &Vendor) {
    let (id, s) = (order["id"].as_str().unwrap(), shipment_of(order, v));
    let ship = json!({ "carrier": "ヤマト運輸", "tracking_no": "1" });
    app.post(&format!("/admin/v1/orders/{id}/shipments/{s}/ship"), &v.staff.token, ship).await.expect(200);
    let collected = json!({ "collected": order["total"] });
    app.post(&format!("/admin/v1/orders/{id}/shipments/{s}/deliver"), &v.staff.token, collected).await.expect(200);
}

async fn statements(pool: &sqlx::PgPool, tenant: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM vendor_statements WHERE tenant_id = $1::uuid")
        .bind(tenant)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_operator_reads_and_closes_a_routed_malls_statements_in_its_database() {
    let (app, second, secret) = app_with_second(false).await;
    let shop = mall(&app).await;
    let path = format!("/platform/v1/tenants/{}/stores/{}/database", shop.tenant_id, shop.store_id);
    app.op(Method::PUT, &path, Some(json!({ "db_key": "second" }))).await.expect(200);
    let v = vendor(&app, &shop, "陶器 R", 1000).await;
    let p = product(&app, &v, "Teapot", "R-POT", 4400, "standard", 10).await;
    let placed = order(&app, &shop, &[(&p.variant, 1)], "routed-mall@example.jp", "cod").await;
    deliver(&app, &placed, &v).await;
    let t = shop.tenant_id.as_str();

    let open = app.op(Method::GET, &format!("/platform/v1/tenants/{t}/vendors/{}/statements/open", v.id), None).await;
    let open = open.expect(200);
    let line = placed["items"][0]["id"].as_str().unwrap();
    assert_eq!(open["lines"][0]["order_item_id"], line, "{open}");
    let closed =
        app.op(Method::POST, &format!("/platform/v1/tenants/{t}/vendors/{}/statements/close", v.id), None).await;
    let closed = closed.expect(200);
    assert_eq!(closed["number"], 1, "{closed}");
    let id = closed["id"].as_str().unwrap();
    // stored where the store's data is, and the same statement for the operator and the staff
    assert_eq!((statements(&app.owner, t).await, statements(&second.owner, t).await), (0, 1));
    let listed = app.op(Method::GET, &format!("/platform/v1/tenants/{t}/statements"), None).await.expect(200);
    assert_eq!(listed["items"][0]["id"], id, "{listed}");
    let by_operator = app.op(Method::GET, &format!("/platform/v1/tenants/{t}/statements/{id}"), None).await.expect(200);
    assert_eq!(app.get(&format!("/admin/v1/statements/{id}"), &shop.owner_token).await.expect(200), by_operator);

    // the CLI reads the same database
    let out = crate::support::process::tenpo(&app)
        .env_remove("TENPO_LOG")
        .env("TENPO_APP_DB_PASSWORD", APP_PASSWORD)
        .args(["statement", "list", "--tenant", t])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let cli: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(cli[0]["id"], id, "{cli}");
    let _ = std::fs::remove_file(secret);
}
