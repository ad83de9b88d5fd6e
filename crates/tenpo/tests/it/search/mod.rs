//! Storefront search: Japanese and Latin text on the embedded index, filters and facets,
//! isolation between stores, sync from the outbox, reindex, and the Meilisearch backend.

mod embedded;
mod meili;
mod sync;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Shop, TestApp};

pub fn yen(amount: i64) -> Value {
    json!({ "amount": amount, "currency": "JPY" })
}

/// Creates an active product: `variants` as (sku, price, stock); options become `Size` values.
pub async fn product(
    app: &TestApp,
    shop: &Shop,
    title: &str,
    vendor_id: Option<&str>,
    variants: &[(&str, i64, i32)],
) -> Value {
    let options: Vec<&str> = if variants.len() > 1 { vec!["Size"] } else { vec![] };
    let variants: Vec<Value> = variants
        .iter()
        .map(|(sku, price, qty)| {
            let mut v = json!({ "sku": sku, "price": yen(*price), "inventory_quantity": qty });
            if !options.is_empty() {
                v["option_values"] = json!([sku]);
            }
            v
        })
        .collect();
    let mut body = json!({ "title": title, "status": "active", "options": options, "variants": variants });
    if let Some(v) = vendor_id {
        body["vendor_id"] = json!(v);
    }
    app.post("/admin/v1/products", &shop.owner_token, body).await.expect(201)
}

/// GET .../search?{query}, expecting 200.
pub async fn find(app: &TestApp, store: &str, query: &str) -> Value {
    app.call(Method::GET, &format!("/store/v1/stores/{store}/search?{query}"), None, None).await.expect(200)
}

pub fn titles(page: &Value) -> Vec<String> {
    let mut t: Vec<String> =
        page["items"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap().to_string()).collect();
    t.sort();
    t
}

/// Polls a search until `done` holds (the sync runs in the background), at most 20 s.
pub async fn search_until(app: &TestApp, store: &str, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let page = find(app, store, query).await;
        if done(&page) {
            return page;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "search {query:?} never got there; last: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// URL-encodes a query value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
