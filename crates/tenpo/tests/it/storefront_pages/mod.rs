//! The storefront's pages at `/shop/{store}` (docs/STOREFRONT.md, "Storefront pages"): a
//! shopper browses, searches and buys in a real headless Chromium, with and without
//! JavaScript; the cart cookie, caching and a double-submitted checkout over plain HTTP.

mod accounts;
mod browse_and_buy;
mod http;
mod own_domain;
mod tags;

use serde_json::{Value, json};

use crate::support::{Shop, TestApp};

pub fn yen(amount: i64) -> Value {
    json!({ "amount": amount, "currency": "JPY" })
}

/// A Japanese tea shop: bank transfer and COD (with fee tiers), flat shipping ¥800 (free from
/// ¥10,000), two delivery slots, its commercial disclosures published; a tea with a
/// compare-at price, a teacup, a digital guide.
pub struct TeaHouse {
    pub shop: Shop,
    pub tea: String,
    pub cup: String,
    pub guide: String,
}

pub async fn tea_house(app: &TestApp) -> TeaHouse {
    let shop = app.shop().await;
    app.patch(
        "/admin/v1/store/checkout-settings",
        &shop.owner_token,
        json!({
            "shipping_flat_fee": yen(800),
            "free_shipping_threshold": yen(10_000),
            "cod_enabled": true,
            "cod_limit": yen(300_000),
            "cod_fee_tiers": [{ "up_to": yen(10_000), "fee": yen(330) }, { "up_to": yen(300_000), "fee": yen(660) }],
            "bank_account": { "bank_name": "テスト銀行", "branch_name": "本店", "account_type": "futsu", "account_number": "1234567", "account_holder_kana": "テンポ" },
            "delivery_slots": [{ "code": "am", "label": "午前中" }, { "code": "14-16", "label": "14時〜16時" }]
        }),
    )
    .await
    .expect(200);
    app.call(
        reqwest::Method::PUT,
        "/admin/v1/store/legal-disclosures",
        Some(&shop.owner_token),
        Some(crate::support::fixtures::disclosures("株式会社てんぽ茶舗")),
    )
    .await
    .expect(200);
    let mut ids = Vec::new();
    for (title, handle, sku, price, compare, tax, kind, stock) in [
        ("静岡の深蒸し煎茶", "sencha", "TEA", 1080, Some(1280), "reduced", "physical", Some(100)),
        ("有田焼の湯呑み", "yunomi", "CUP", 3300, None, "standard", "physical", Some(20)),
        ("お茶の淹れ方ガイド", "guide", "PDF", 550, None, "standard", "digital", None),
    ] {
        let mut v = json!({ "sku": sku, "price": yen(price), "tax_class": tax, "fulfillment_type": kind });
        if let Some(s) = stock {
            v["inventory_quantity"] = json!(s);
        }
        if let Some(c) = compare {
            v["compare_at_price"] = yen(c);
        }
        let body = json!({ "title": title, "handle": handle, "status": "active", "description": "香り高い一品です。", "variants": [v] });
        let p = app.post("/admin/v1/products", &shop.owner_token, body).await.expect(201);
        ids.push(p["variants"][0]["id"].as_str().unwrap().to_string());
    }
    TeaHouse { shop, tea: ids[0].clone(), cup: ids[1].clone(), guide: ids[2].clone() }
}

/// The store's orders, through the admin API.
pub async fn orders(app: &TestApp, shop: &Shop) -> Vec<Value> {
    app.get("/admin/v1/orders", &shop.owner_token).await.expect(200)["items"].as_array().unwrap().clone()
}
