mod carts;
mod check;
mod crash;
mod hot;
mod race;
mod stock;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Answer, Shop, TestApp};

/// A shopper's cart: (id, secret).
pub async fn new_cart(app: &TestApp, shop: &Shop) -> (String, String) {
    let c = app
        .call(Method::POST, &format!("/store/v1/stores/{}/carts", shop.handle), None, Some(json!({})))
        .await
        .expect(201);
    (c["cart"]["id"].as_str().unwrap().to_string(), c["secret"].as_str().unwrap().to_string())
}

/// Adds to a cart, with an Idempotency-Key when given.
pub async fn add(
    app: &TestApp,
    shop: &Shop,
    cart: &(String, String),
    variant: &str,
    quantity: i32,
    key: Option<&str>,
) -> Answer {
    let mut req = app
        .client
        .post(app.url(&format!("/store/v1/stores/{}/carts/{}/items", shop.handle, cart.0)))
        .header("x-cart-secret", &cart.1)
        .json(&json!({ "variant_id": variant, "quantity": quantity }));
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    TestApp::read(req.send().await.unwrap()).await
}

/// Follows a 202 to its decision by polling.
pub async fn decided(app: &TestApp, _shop: &Shop, cart: &(String, String), first: Answer) -> Value {
    if first.status.as_u16() != 202 {
        return json!({ "status_code": first.status.as_u16(), "body": first.body });
    }
    let url = first.body["poll_url"].as_str().unwrap().to_string();
    for _ in 0..600 {
        let r = app.client.get(app.url(&url)).header("x-cart-secret", &cart.1).send().await.unwrap();
        let body = TestApp::read(r).await.expect(200);
        if body["status"] != "queued" {
            let code = if body["status"] == "held" { 201 } else { 409 };
            return json!({ "status_code": code, "body": body });
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("request {url} never decided");
}

/// A product with one physical variant holding `stock` units; answers the variant id.
pub async fn stocked_variant(app: &TestApp, shop: &Shop, stock: i32, hot: bool, limit: Option<i32>) -> String {
    let p = app
        .post(
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": format!("Item {}", uuid::Uuid::new_v4().simple()), "status": "active",
                    "variants": [{ "sku": "ITEM", "price": { "amount": 1000, "currency": "JPY" }, "inventory_quantity": stock,
                                   "is_hot": hot, "hot_limit_per_customer": limit }] }),
        )
        .await
        .expect(201);
    p["variants"][0]["id"].as_str().unwrap().to_string()
}

/// (stock, reserved) of a variant summed over locations, read across tenants.
pub async fn numbers(app: &TestApp, variant: &str) -> (i64, i64) {
    sqlx::query_as(&format!("SELECT coalesce(sum(stock), 0)::bigint, coalesce(sum(reserved), 0)::bigint FROM inventory_stocks WHERE variant_id = '{variant}'"))
        .fetch_one(&app.owner)
        .await
        .unwrap()
}

/// Runs `tenpo inventory check` against the test's database; answers (success, output).
pub fn inventory_check(app: &TestApp, repair: bool) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("tenpo-check-{}", uuid::Uuid::new_v4()));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tenpo"));
    cmd.args(["inventory", "check"])
        .env("DATABASE_URL", app.owner_url())
        .env("TENPO_DATA_DIR", &dir)
        .env_remove("TENPO_CONFIG");
    if repair {
        cmd.arg("--repair");
    }
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}
