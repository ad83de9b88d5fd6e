mod csv;
mod csv_excel;
mod csv_images;
pub mod images;
mod products;
mod storefront;

use serde_json::{Value, json};

use crate::support::{Shop, TestApp};

pub fn yen(amount: i64) -> Value {
    json!({ "amount": amount, "currency": "JPY" })
}

/// Creates an active product with one variant per (sku, price, stock); answers its JSON.
pub async fn active_product(app: &TestApp, shop: &Shop, title: &str, variants: &[(&str, i64, i32)]) -> Value {
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
    app.post(
        "/admin/v1/products",
        &shop.owner_token,
        json!({ "title": title, "status": "active", "options": options, "variants": variants }),
    )
    .await
    .expect(201)
}
