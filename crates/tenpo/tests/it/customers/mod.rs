//! Customers: the identity map, merge, addresses, store sync, CSV import, privacy.

pub(crate) mod account;
mod address;
mod identity;
mod import;
mod merge;
mod postal;
mod privacy;
mod sync;

use serde_json::{Value, json};

use crate::support::{Shop, TestApp};

/// A second store (with its own signed-in owner) in the shop's tenant.
pub async fn sibling(app: &TestApp, shop: &Shop) -> Shop {
    let n = uuid::Uuid::new_v4().simple().to_string();
    app.store_in(&shop.tenant_id, &format!("sib-{}", &n[..12])).await
}

/// Creates a customer in the shop's store; returns the detail.
pub async fn create(app: &TestApp, shop: &Shop, body: Value) -> Value {
    app.post("/admin/v1/customers", &shop.owner_token, body).await.expect(201)
}

pub async fn detail(app: &TestApp, shop: &Shop, id: &str) -> Value {
    app.get(&format!("/admin/v1/customers/{id}"), &shop.owner_token).await.expect(200)
}

pub async fn set_sync(app: &TestApp, shop: &Shop, on: bool) {
    let body = app
        .call(
            reqwest::Method::PUT,
            "/admin/v1/store/customer-sync",
            Some(&shop.owner_token),
            Some(json!({ "customer_sync_enabled": on })),
        )
        .await
        .expect(200);
    assert_eq!(body["customer_sync_enabled"], on);
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

pub fn uuid(s: &str) -> uuid::Uuid {
    s.parse().expect("a uuid")
}
