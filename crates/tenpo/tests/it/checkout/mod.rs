mod carrier_csv;
mod delivery;
mod disclosures;
mod documents;
mod flows;
mod japan;
mod mails;
mod promotions;
mod races;

use reqwest::Method;
use serde_json::{Value, json};

use crate::inventory::{add, new_cart};
use crate::support::{Answer, Shop, TestApp};

pub fn yen(amount: i64) -> Value {
    json!({ "amount": amount, "currency": "JPY" })
}

/// A tea shop ready to sell: shipping 800 flat, free from 10,000, Okinawa 1,500; COD up to
/// 300,000 with fees 330 / 440 / 660; a bank account; two delivery slots.
pub struct TeaShop {
    pub shop: Shop,
    /// 1,080 yen, reduced rate, 100 in stock
    pub tea: String,
    /// 3,300 yen, standard rate, 20 in stock
    pub cup: String,
    /// 550 yen, digital
    pub guide: String,
}

pub async fn tea_shop(app: &TestApp) -> TeaShop {
    let shop = app.shop().await;
    tea_shop_in(app, shop).await
}

/// [`tea_shop`] in a store that exists already (one routed to a store database, say).
pub async fn tea_shop_in(app: &TestApp, shop: Shop) -> TeaShop {
    app.patch(
        "/admin/v1/store/checkout-settings",
        &shop.owner_token,
        json!({
            "shipping_flat_fee": yen(800),
            "free_shipping_threshold": yen(10_000),
            "prefecture_fees": [{ "prefecture": "沖縄県", "fee": yen(1500) }, { "prefecture": "Hokkaido", "fee": yen(1200) }],
            "cod_enabled": true,
            "cod_limit": yen(300_000),
            "cod_fee_tiers": [{ "up_to": yen(10_000), "fee": yen(330) }, { "up_to": yen(30_000), "fee": yen(440) }, { "up_to": yen(300_000), "fee": yen(660) }],
            "bank_account": { "bank_name": "テスト銀行", "branch_name": "本店", "account_type": "futsu", "account_number": "1234567", "account_holder_kana": "テンポ" },
            "delivery_slots": [{ "code": "am", "label": "午前中" }, { "code": "14-16", "label": "14時〜16時" }]
        }),
    )
    .await
    .expect(200);
    let variant = |title: &str, sku: &str, price: i64, tax: &str, kind: &str, stock: Option<i32>| {
        let mut v = json!({ "sku": sku, "price": yen(price), "tax_class": tax, "fulfillment_type": kind });
        if let Some(s) = stock {
            v["inventory_quantity"] = json!(s);
        }
        json!({ "title": title, "status": "active", "variants": [v] })
    };
    let mut ids = Vec::new();
    for body in [
        variant("Sencha", "TEA", 1080, "reduced", "physical", Some(100)),
        variant("Teacup", "CUP", 3300, "standard", "physical", Some(20)),
        variant("Brewing guide", "PDF", 550, "standard", "digital", None),
    ] {
        let p = app.post("/admin/v1/products", &shop.owner_token, body).await.expect(201);
        ids.push(p["variants"][0]["id"].as_str().unwrap().to_string());
    }
    TeaShop { shop, tea: ids[0].clone(), cup: ids[1].clone(), guide: ids[2].clone() }
}

pub fn address(prefecture: &str) -> Value {
    json!({ "name": "山田 花子", "name_kana": "ヤマダ ハナコ", "postal_code": crate::support::postal_code_in(prefecture), "prefecture": prefecture,
            "city": "渋谷区神宮前", "line1": "1-2-3", "phone": "090-1234-5678" })
}

pub async fn checkout(app: &TestApp, shop: &Shop, cart: &(String, String), body: Value, key: Option<&str>) -> Answer {
    let mut req = app
        .client
        .post(app.url(&format!("/store/v1/stores/{}/carts/{}/checkout", shop.handle, cart.0)))
        .header("x-cart-secret", &cart.1)
        .json(&body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    TestApp::read(req.send().await.unwrap()).await
}

pub async fn cart_call(
    app: &TestApp,
    method: Method,
    shop: &Shop,
    cart: &(String, String),
    rest: &str,
    body: Option<Value>,
) -> Answer {
    let mut req = app
        .client
        .request(method, app.url(&format!("/store/v1/stores/{}/carts/{}{rest}", shop.handle, cart.0)))
        .header("x-cart-secret", &cart.1);
    if let Some(b) = body {
        req = req.json(&b);
    }
    TestApp::read(req.send().await.unwrap()).await
}

/// A cart holding these (variant, quantity) lines.
pub async fn cart_with(app: &TestApp, shop: &Shop, lines: &[(&str, i32)]) -> (String, String) {
    let cart = new_cart(app, shop).await;
    for (variant, qty) in lines {
        add(app, shop, &cart, variant, *qty, None).await.expect(201);
    }
    cart
}
