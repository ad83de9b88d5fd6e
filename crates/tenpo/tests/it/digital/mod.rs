//! Digital delivery: files of digital variants, deliveries of paid orders, downloads by order
//! token with their limits, local and S3 storage end to end.

mod assets;
mod files;
mod lifecycle;
mod race;
mod s3;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::checkout::{TeaShop, cart_with, checkout, tea_shop, yen};
use crate::support::{Answer, Shop, TestApp};

/// A tea shop whose digital brewing guide (550 yen) has a file; answers the shop and the
/// guide's product id.
pub async fn guide_shop(app: &TestApp, file: &[u8]) -> (TeaShop, String) {
    let t = tea_shop(app).await;
    let product = product_of(app, &t.guide).await;
    upload(app, &t.shop, &product, &t.guide, file, "抹茶の淹れ方.pdf", Some("application/pdf")).await.expect(201);
    (t, product)
}

pub async fn product_of(app: &TestApp, variant: &str) -> String {
    let id: uuid::Uuid = sqlx::query_scalar("SELECT product_id FROM variants WHERE id = $1::uuid")
        .bind(variant)
        .fetch_one(&app.owner)
        .await
        .unwrap();
    id.to_string()
}

/// Uploads a variant's file as the shop's owner.
pub async fn upload(
    app: &TestApp,
    shop: &Shop,
    product: &str,
    variant: &str,
    bytes: &[u8],
    filename: &str,
    content_type: Option<&str>,
) -> Answer {
    upload_as(app, &shop.owner_token, product, variant, bytes.to_vec(), filename, content_type).await
}

pub async fn upload_as(
    app: &TestApp,
    token: &str,
    product: &str,
    variant: &str,
    bytes: Vec<u8>,
    filename: &str,
    content_type: Option<&str>,
) -> Answer {
    let mut req = app
        .client
        .put(app.url(&format!("/admin/v1/products/{product}/variants/{variant}/asset")))
        .query(&[("filename", filename)])
        .bearer_auth(token)
        .body(bytes);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    TestApp::read(req.send().await.unwrap()).await
}

/// A placed order: (id, order token).
pub struct Order {
    pub id: String,
    pub token: String,
}

/// Places a bank-transfer order of these lines (digital only: no address needed).
pub async fn place(app: &TestApp, shop: &Shop, lines: &[(&str, i32)]) -> (Order, Value) {
    let cart = cart_with(app, shop, lines).await;
    let placed =
        checkout(app, shop, &cart, json!({ "email": "buyer@example.jp", "payment_method": "bank_transfer" }), None)
            .await
            .expect(201);
    let order = Order {
        id: placed["order"]["id"].as_str().unwrap().to_string(),
        token: placed["order_token"].as_str().unwrap().to_string(),
    };
    (order, placed["order"].clone())
}

/// Staff confirm the whole amount of a bank transfer.
pub async fn confirm_payment(app: &TestApp, shop: &Shop, order: &Order, total: &Value) {
    app.post(
        &format!("/admin/v1/orders/{}/payments/confirm", order.id),
        &shop.owner_token,
        json!({ "received": total }),
    )
    .await
    .expect(200);
}

/// Places an order of `quantity` guides and has it paid; answers it once its deliveries exist.
pub async fn paid_guide_order(app: &TestApp, t: &TeaShop) -> Order {
    let (order, placed) = place(app, &t.shop, &[(&t.guide, 1)]).await;
    assert_eq!(placed["total"], yen(550));
    confirm_payment(app, &t.shop, &order, &placed["total"]).await;
    deliveries_until(app, &t.shop, &order, |d| d.len() == 1).await;
    order
}

/// The shopper's list of the order's downloads.
pub async fn downloads(app: &TestApp, shop: &Shop, order: &Order) -> Answer {
    let req = app
        .client
        .get(app.url(&format!("/store/v1/stores/{}/orders/{}/downloads", shop.handle, order.id)))
        .header("x-order-token", &order.token);
    TestApp::read(req.send().await.unwrap()).await
}

/// Polls the shopper's list until `done` holds for its deliveries (the consumer runs in the
/// worker); answers them.
pub async fn deliveries_until(
    app: &TestApp,
    shop: &Shop,
    order: &Order,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..200 {
        let list = downloads(app, shop, order).await.expect(200);
        let d = list["deliveries"].as_array().unwrap().clone();
        if done(&d) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("deliveries of order {} never reached the expected state", order.id);
}

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Asks to download a delivery; answers the raw response (303 or a problem).
pub async fn request_download(
    app: &TestApp,
    client: &reqwest::Client,
    shop: &Shop,
    order: &Order,
    delivery: &str,
) -> reqwest::Response {
    client
        .post(app.url(&format!("/store/v1/stores/{}/orders/{}/downloads/{delivery}", shop.handle, order.id)))
        .header("x-order-token", &order.token)
        .send()
        .await
        .unwrap()
}

/// A granted download's URL (absolute), asserting the 303.
pub async fn download_url(app: &TestApp, shop: &Shop, order: &Order, delivery: &str) -> (String, Value) {
    let res = request_download(app, &no_redirects(), shop, order, delivery).await;
    let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    let answer = TestApp::read(res).await;
    let body = answer.expect(303);
    let location = location.expect("a Location header");
    assert_eq!(body["url"], location.as_str());
    let url = if location.starts_with('/') { app.url(&location) } else { location };
    (url, body)
}

/// The delivery row as the database has it.
pub async fn delivery_row(app: &TestApp, delivery: &str) -> (String, i32, Option<i32>) {
    sqlx::query_as("SELECT status, downloaded_count, max_downloads FROM digital_deliveries WHERE id = $1::uuid")
        .bind(delivery)
        .fetch_one(&app.owner)
        .await
        .unwrap()
}

/// Events of one aggregate, in order.
pub async fn events_of(app: &TestApp, aggregate_id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM outbox_events WHERE aggregate_id = $1 ORDER BY id")
        .bind(aggregate_id)
        .fetch_all(&app.owner)
        .await
        .unwrap()
}

/// A staff call on a delivery of an order (`revoke`, `extend`, `limit`).
pub async fn staff_action(
    app: &TestApp,
    shop: &Shop,
    order: &Order,
    delivery: &str,
    action: &str,
    body: Value,
) -> Answer {
    app.call(
        Method::POST,
        &format!("/admin/v1/orders/{}/deliveries/{delivery}/{action}", order.id),
        Some(&shop.owner_token),
        Some(body),
    )
    .await
}

/// A guide shop and a paid order of the guide, delivered: (shop, order, delivery id). With a
/// limit, the guide's product allows that many downloads.
pub async fn bought_guide(app: &TestApp, limit: Option<i32>) -> (TeaShop, Order, String) {
    let (t, product) = guide_shop(app, b"guide").await;
    if let Some(max) = limit {
        limit_product(app, &t.shop, &product, max).await;
    }
    let order = paid_guide_order(app, &t).await;
    let delivery = first_delivery(app, &t.shop, &order).await;
    (t, order, delivery)
}

/// The first delivery of the order, as the shopper sees it.
pub async fn first_delivery(app: &TestApp, shop: &Shop, order: &Order) -> String {
    downloads(app, shop, order).await.expect(200)["deliveries"][0]["id"].as_str().unwrap().to_string()
}

/// Changes a delivery row directly (`SET ...`), as time or an old state would have left it.
pub async fn alter_delivery(app: &TestApp, delivery: &str, set: &str) {
    sqlx::query(&format!("UPDATE digital_deliveries SET {set} WHERE id = $1::uuid"))
        .bind(delivery)
        .execute(&app.owner)
        .await
        .unwrap();
}

/// Gives a product its own download limit.
pub async fn limit_product(app: &TestApp, shop: &Shop, product: &str, max_downloads: i32) {
    app.call(
        Method::PUT,
        &format!("/admin/v1/products/{product}/digital-settings"),
        Some(&shop.owner_token),
        Some(json!({ "max_downloads": max_downloads })),
    )
    .await
    .expect(200);
}

/// `len` bytes that are not all alike, so a misplaced range or chunk shows.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + i / 251) % 256) as u8).collect()
}
