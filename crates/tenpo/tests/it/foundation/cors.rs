//! CORS: a storefront page on an allowed origin can shop from the browser; other origins are
//! refused; nothing is allowed until configured.

use reqwest::Method;
use serde_json::json;

use crate::inventory::stocked_variant;
use crate::support::{Answer, TestApp};

const SHOP_ORIGIN: &str = "https://shop.example.jp";
const ADMIN_ORIGIN: &str = "https://admin.example.jp";

/// A browser's preflight of `method` on `path`, asking to send these headers.
async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str, headers: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

fn allow_origin(headers: &reqwest::header::HeaderMap) -> Option<&str> {
    headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok())
}

fn list(headers: &reqwest::header::HeaderMap, name: &str) -> Vec<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

#[tokio::test]
async fn a_page_on_an_allowed_origin_adds_to_cart_and_other_origins_are_refused() {
    let app = TestApp::spawn_with(|c, o| {
        o.worker = false;
        c.http.cors_origins = vec![ADMIN_ORIGIN.into()];
    })
    .await;
    let shop = app.shop().await;
    let other = app.shop().await;
    let variant = stocked_variant(&app, &shop, 5, false, None).await;
    let store = format!("/store/v1/stores/{}", shop.handle);

    // nothing but the deployment's list before the store allows its storefront's origin
    let before = preflight(&app, &format!("{store}/carts"), SHOP_ORIGIN, "POST", "content-type").await;
    assert_eq!(allow_origin(before.headers()), None);
    let saved = app
        .patch(
            "/admin/v1/store/settings",
            &shop.owner_token,
            json!({ "cors_origins": ["HTTPS://Shop.Example.JP/", "http://localhost:5173"] }),
        )
        .await
        .expect(200);
    assert_eq!(saved["cors_origins"], json!([SHOP_ORIGIN, "http://localhost:5173"]));

    // the storefront's page: preflight, create a cart, preflight the add with its headers, add
    let pre = preflight(&app, &format!("{store}/carts"), SHOP_ORIGIN, "POST", "content-type,idempotency-key").await;
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(allow_origin(pre.headers()), Some(SHOP_ORIGIN));
    assert!(list(pre.headers(), "access-control-allow-methods").contains(&"post".to_string()));
    let created = app
        .client
        .post(app.url(&format!("{store}/carts")))
        .header("origin", SHOP_ORIGIN)
        .header("idempotency-key", "page-load-1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(allow_origin(created.headers()), Some(SHOP_ORIGIN));
    let cart = TestApp::read(created).await.expect(201);
    let (id, secret) = (cart["cart"]["id"].as_str().unwrap(), cart["secret"].as_str().unwrap());
    let items = format!("{store}/carts/{id}/items");
    let pre = preflight(&app, &items, SHOP_ORIGIN, "POST", "content-type,x-cart-secret,idempotency-key").await;
    assert_eq!(allow_origin(pre.headers()), Some(SHOP_ORIGIN));
    let allowed = list(pre.headers(), "access-control-allow-headers");
    for h in ["content-type", "x-cart-secret", "idempotency-key", "x-order-token", "authorization"] {
        assert!(allowed.contains(&h.to_string()), "{h} not in {allowed:?}");
    }
    let added = app
        .client
        .post(app.url(&items))
        .header("origin", SHOP_ORIGIN)
        .header("x-cart-secret", secret)
        .json(&json!({ "variant_id": variant, "quantity": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(allow_origin(added.headers()), Some(SHOP_ORIGIN));
    assert!(list(added.headers(), "access-control-expose-headers").contains(&"location".to_string()));
    TestApp::read(added).await.expect(201);

    // another origin: no allowance on the preflight or the answer, so the browser refuses both
    let evil = preflight(&app, &items, "https://evil.example", "POST", "content-type,x-cart-secret").await;
    assert_eq!(allow_origin(evil.headers()), None);
    let sneaky = app.client.get(app.url(&format!("{store}/products"))).header("origin", "https://evil.example");
    let answer: Answer = TestApp::read(sneaky.send().await.unwrap()).await;
    assert_eq!(allow_origin(&answer.headers), None);
    // the store's origin is the store's: not another store's, not the admin API
    let elsewhere =
        preflight(&app, &format!("/store/v1/stores/{}/carts", other.handle), SHOP_ORIGIN, "POST", "content-type").await;
    assert_eq!(allow_origin(elsewhere.headers()), None);
    let admin = preflight(&app, "/admin/v1/products", SHOP_ORIGIN, "GET", "authorization").await;
    assert_eq!(allow_origin(admin.headers()), None);

    // the deployment's list holds everywhere: the admin API and every store
    let admin = preflight(&app, "/admin/v1/products", ADMIN_ORIGIN, "GET", "authorization").await;
    assert_eq!(allow_origin(admin.headers()), Some(ADMIN_ORIGIN));
    let any_store =
        preflight(&app, &format!("/store/v1/stores/{}/carts", other.handle), ADMIN_ORIGIN, "POST", "content-type")
            .await;
    assert_eq!(allow_origin(any_store.headers()), Some(ADMIN_ORIGIN));

    // clearing the store's list takes its origin away at once
    app.patch("/admin/v1/store/settings", &shop.owner_token, json!({ "cors_origins": [] })).await.expect(200);
    let after = preflight(&app, &items, SHOP_ORIGIN, "POST", "content-type").await;
    assert_eq!(allow_origin(after.headers()), None);
}

#[tokio::test]
async fn store_origins_must_be_origins() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    for bad in
        [json!(["shop.example.jp"]), json!(["https://shop.example.jp/cart"]), json!(["*"]), json!(["ftp://x.jp"])]
    {
        let a = app.patch("/admin/v1/store/settings", &shop.owner_token, json!({ "cors_origins": bad })).await;
        a.expect_problem(422, "validation_failed");
    }
    let too_many: Vec<String> = (0..51).map(|i| format!("https://s{i}.example.jp")).collect();
    app.patch("/admin/v1/store/settings", &shop.owner_token, json!({ "cors_origins": too_many }))
        .await
        .expect_problem(422, "validation_failed");
    let s = app.get("/admin/v1/store/settings", &shop.owner_token).await.expect(200);
    assert_eq!(s["cors_origins"], json!([]));
}
