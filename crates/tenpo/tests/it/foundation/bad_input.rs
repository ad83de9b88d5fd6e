//! Bad input to every endpoint is a 4xx problem+json and changes nothing.
//!
//! The test walks the OpenAPI document, so a new endpoint is covered as soon as it exists. For
//! each operation with a body it starts from a valid example (below; the test fails if one is
//! missing) and sends it broken one field at a time: wrong types, unknown enum values, over-long
//! strings, NUL characters, out-of-range numbers; plus malformed JSON, unknown fields, a
//! non-object, a wrong content type and an oversized body. Every path parameter and list query
//! is also sent malformed, and every path and query parameter with the NUL character. The database is compared before and after.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{OPERATOR_TOKEN, Shop, TestApp};

/// A valid body per operation ("METHOD path"). Never sent as is: only broken copies are.
pub fn examples() -> BTreeMap<&'static str, Value> {
    let staff = json!({ "name": "N", "email": "n@x.test", "login_id": "nn1", "phone": "09011112222",
                        "password": "long-enough-pw", "role": "staff", "vendor_id": null });
    let staff_update = json!({ "name": "N", "email": "e@x.test", "login_id": "abc", "phone": "0311112222",
                               "password": "long-enough-pw", "role": "staff", "status": "active" });
    BTreeMap::from([
        ("POST /platform/v1/tenants", json!({ "name": "T", "type": "single_brand", "default_currency": "JPY" })),
        ("PATCH /platform/v1/tenants/{tenant_id}", json!({ "name": "T2", "status": "active" })),
        (
            "POST /platform/v1/tenants/{tenant_id}/stores",
            json!({ "handle": "x-store", "name": "X", "default_location": true }),
        ),
        (
            "POST /platform/v1/tenants/{tenant_id}/stores/{store_id}/locations",
            json!({ "code": "c1", "name": "C", "priority": 5 }),
        ),
        ("POST /platform/v1/tenants/{tenant_id}/stores/{store_id}/staff", staff.clone()),
        (
            "POST /platform/v1/tenants/{tenant_id}/vendors",
            json!({ "name": "V", "commission_rate_bps": 100, "registration_number": "T7123456789012", "bank_account": { "bank_name": "B", "branch_name": "本店", "account_type": "futsu", "account_number": "1234567", "account_holder_kana": "テンポ" } }),
        ),
        (
            "PATCH /platform/v1/tenants/{tenant_id}/vendors/{vendor_id}",
            json!({ "name": "V2", "status": "active", "commission_rate_bps": 200, "commission_effective_from": "2030-01-01", "registration_number": "T7123456789012" }),
        ),
        (
            "POST /platform/v1/databases",
            json!({ "db_key": "d1", "kind": "dedicated", "host": "db2.internal", "port": 5432, "database": "d",
                    "username": "u", "password_secret_ref": "env:D1_PW", "status": "active" }),
        ),
        ("PUT /platform/v1/tenants/{tenant_id}/stores/{store_id}/database", json!({ "db_key": "main" })),
        (
            "PATCH /platform/v1/databases/{db_key}",
            json!({ "host": "db3.internal", "port": 5433, "username": "u2", "password_secret_ref": "file:/run/pw", "status": "inactive" }),
        ),
        ("POST /admin/v1/auth/login", json!({ "store": "s", "login": "l", "password": "p" })),
        ("PATCH /admin/v1/store", json!({ "name": "S", "status": "active" })),
        ("POST /admin/v1/locations", json!({ "code": "c1", "name": "C", "priority": 5, "vendor_id": null })),
        (
            "PATCH /admin/v1/mall/settings",
            json!({ "closing_day": "20", "commission_on_shipping": true, "commission_on_cod_fee": false,
            "transfer_fee": { "amount": 275, "currency": "JPY" }, "min_payout": { "amount": 1000, "currency": "JPY" },
            "contact_mask_days": 30 }),
        ),
        ("PATCH /admin/v1/locations/{location_id}", json!({ "name": "L", "status": "active", "priority": 3 })),
        ("POST /admin/v1/staff", staff),
        ("PATCH /admin/v1/staff/{staff_id}", staff_update),
        (
            "POST /admin/v1/vendors",
            json!({ "name": "V", "commission_rate_bps": 100, "registration_number": "T7123456789012", "bank_account": { "bank_name": "B", "branch_name": "本店", "account_type": "futsu", "account_number": "1234567", "account_holder_kana": "テンポ" } }),
        ),
        (
            "PATCH /admin/v1/vendors/{vendor_id}",
            json!({ "name": "V2", "status": "active", "commission_rate_bps": 200, "commission_effective_from": "2030-01-01", "registration_number": "T7123456789012" }),
        ),
        (
            "POST /admin/v1/products",
            json!({ "title": "T", "handle": "t", "description": "d", "status": "draft", "vendor_id": null,
            "product_type": "x", "tags": ["a"], "options": ["Size"], "location_ids": [],
            "variants": [{ "sku": "S", "option_values": ["M"], "price": { "amount": 100, "currency": "JPY" } }] }),
        ),
        (
            "PATCH /admin/v1/products/{product_id}",
            json!({ "title": "T", "handle": "t2", "description": "d", "status": "draft",
            "product_type": "x", "tags": ["a"], "options": ["Size"] }),
        ),
        (
            "POST /admin/v1/products/{product_id}/variants",
            json!({ "sku": "S2", "title": "L", "option_values": ["L"],
            "fulfillment_type": "physical", "price": { "amount": 100, "currency": "JPY" }, "compare_at_price": null,
            "tax_class": "reduced", "is_hot": false, "hot_limit_per_customer": 2, "weight_grams": 10, "barcode": "4901234567894",
            "inventory_quantity": 3 }),
        ),
        ("PATCH /admin/v1/products/{product_id}/images/{image_id}", json!({ "alt": "正面", "position": 1 })),
        (
            "PATCH /admin/v1/products/{product_id}/variants/{variant_id}",
            json!({ "sku": "S3", "title": "L", "option_values": ["XL"],
            "price": { "amount": 100, "currency": "JPY" }, "tax_class": "standard", "is_hot": true, "status": "active", "position": 2 }),
        ),
        ("PUT /admin/v1/products/{product_id}/locations", json!({ "location_ids": [] })),
        ("PUT /admin/v1/products/{product_id}/digital-settings", json!({ "url_ttl_seconds": 600, "max_downloads": 3 })),
        ("PUT /admin/v1/store/digital-settings", json!({ "default_url_ttl_seconds": 600, "default_max_downloads": 3 })),
        ("POST /admin/v1/products/bulk-status", json!({ "product_ids": [], "status": "archived" })),
        (
            "PATCH /admin/v1/store/settings",
            json!({ "reservation_ttl_seconds": 60, "cart_abandon_after_seconds": 3600,
            "low_stock_threshold": 3, "show_stock_quantity": true, "cors_origins": ["https://shop.example.jp"] }),
        ),
        (
            "PUT /admin/v1/store/legal-disclosures",
            json!({ "published": false, "disclosures": { "seller_name": "S", "responsible_person": "R", "address": "A",
            "phone": "03-1234-5678", "email": "s@x.test", "price_note": "P", "extra_charges": "E", "payment_methods": "M",
            "payment_timing": "T", "delivery_timing": "D", "returns_policy": "R", "offer_validity": "O",
            "defect_liability": "L", "special_conditions": "C" } }),
        ),
        (
            "PUT /admin/v1/vendors/{vendor_id}/legal-disclosures",
            json!({ "published": false, "disclosures": { "seller_name": "S" } }),
        ),
        (
            "POST /admin/v1/inventory/adjustments",
            json!({ "variant_id": "{variant_id}", "location_id": "{location_id}", "delta": 1, "reason": "receipt", "note": "n" }),
        ),
        (
            "PUT /admin/v1/inventory/levels",
            json!({ "variant_id": "{variant_id}", "location_id": "{location_id}", "stock": 1, "reason": "count", "note": "n" }),
        ),
        ("POST /store/v1/stores/{store}/carts", json!({ "email": "a@b.test" })),
        (
            "POST /store/v1/stores/{store}/account/signup",
            json!({ "email": "s@x.test", "password": "long-enough-pw", "name": "N", "name_kana": "エヌ" }),
        ),
        ("POST /store/v1/stores/{store}/account/verify", json!({ "email": "s@x.test", "code": "123456" })),
        ("POST /store/v1/stores/{store}/account/verify/resend", json!({ "email": "s@x.test" })),
        ("POST /store/v1/stores/{store}/account/login", json!({ "email": "s@x.test", "password": "p" })),
        ("POST /store/v1/stores/{store}/account/password-reset", json!({ "email": "s@x.test" })),
        (
            "POST /store/v1/stores/{store}/account/password-reset/confirm",
            json!({ "email": "s@x.test", "code": "123456", "password": "long-enough-pw" }),
        ),
        ("PATCH /store/v1/stores/{store}/account", json!({ "name": "N", "name_kana": "エヌ", "phone": "09011112222" })),
        (
            "POST /store/v1/stores/{store}/account/addresses",
            json!({ "type": "shipping", "name": "N", "postal_code": "1500001", "prefecture": "東京",
            "city": "渋谷区", "line1": "1-2-3", "line2": "4F", "phone": "09011112222", "is_default": true }),
        ),
        (
            "PATCH /store/v1/stores/{store}/account/addresses/{address_id}",
            json!({ "name": "N", "postal_code": "1500001", "city": "渋谷区", "line1": "1-2-3" }),
        ),
        ("POST /store/v1/stores/{store}/carts/{cart_id}/items", json!({ "variant_id": "{variant_id}", "quantity": 1 })),
        ("PATCH /store/v1/stores/{store}/carts/{cart_id}/items/{item_id}", json!({ "quantity": 1 })),
        (
            "POST /admin/v1/customers",
            json!({ "email": "new@x.test", "phone": "09011112222", "name": "N",
            "name_kana": "エヌ", "notes": "n", "preferences": { "a": 1 } }),
        ),
        (
            "PATCH /admin/v1/customers/{customer_id}",
            json!({ "name": "N2", "name_kana": "エヌ", "email": "e2@x.test",
            "phone": "0311112222", "status": "active", "notes": "n", "preferences": { "a": 2 } }),
        ),
        (
            "POST /admin/v1/customers/{customer_id}/merge",
            json!({ "duplicate_id": "0190a0a0-0000-7000-8000-000000000001" }),
        ),
        (
            "POST /admin/v1/customers/{customer_id}/addresses",
            json!({ "type": "shipping", "name": "N", "name_kana": "エヌ",
            "postal_code": "1500001", "prefecture": "東京", "city": "渋谷区", "line1": "1-2-3", "line2": "4F",
            "phone": "09011112222", "is_default": true }),
        ),
        (
            "PATCH /admin/v1/customers/{customer_id}/addresses/{address_id}",
            json!({ "type": "billing", "name": "N",
            "name_kana": "エヌ", "postal_code": "1500001", "prefecture": "13", "city": "渋谷区", "line1": "1-2-3",
            "line2": "4F", "phone": "09011112222", "is_default": false }),
        ),
        ("PUT /admin/v1/store/customer-sync", json!({ "customer_sync_enabled": true })),
        ("PUT /store/v1/stores/{store}/carts/{cart_id}/promotion", json!({ "code": "SPRING10" })),
        (
            "POST /store/v1/stores/{store}/carts/{cart_id}/checkout",
            json!({ "email": "b@x.test", "payment_method": "bank_transfer", "delivery_slot": null, "delivery_date": null,
            "shipping_address": { "name": "N", "name_kana": "エヌ", "postal_code": "1500001", "prefecture": "13",
                                  "city": "渋谷区", "line1": "1", "line2": "", "phone": "09011112222" },
            "billing_address": null }),
        ),
        (
            "POST /store/v1/stores/{store}/carts/{cart_id}/confirmation",
            json!({ "email": "b@x.test", "payment_method": "bank_transfer", "delivery_slot": null, "delivery_date": null,
            "shipping_address": { "name": "N", "name_kana": "エヌ", "postal_code": "1500001", "prefecture": "13",
                                  "city": "渋谷区", "line1": "1", "line2": "", "phone": "09011112222" },
            "billing_address": null }),
        ),
        (
            "POST /admin/v1/orders/{order_id}/payments/confirm",
            json!({ "received": { "amount": 100, "currency": "JPY" }, "accept_short": false, "note": "n" }),
        ),
        (
            "POST /admin/v1/orders/{order_id}/shipments/{shipment_id}/ship",
            json!({ "carrier": "ヤマト運輸", "tracking_no": "1234" }),
        ),
        (
            "POST /admin/v1/orders/{order_id}/shipments/{shipment_id}/deliver",
            json!({ "collected": { "amount": 100, "currency": "JPY" } }),
        ),
        ("POST /admin/v1/orders/{order_id}/cancel", json!({ "reason": "r" })),
        (
            "POST /admin/v1/webhooks",
            json!({ "url": "https://93.184.215.14/hooks", "topics": ["order.*"], "description": "d", "enabled": true }),
        ),
        (
            "PATCH /admin/v1/webhooks/{webhook_id}",
            json!({ "url": "https://93.184.215.14/hooks", "topics": ["*"], "description": "d", "enabled": false }),
        ),
        ("POST /admin/v1/webhooks/{webhook_id}/rotate-secret", json!({ "overlap_secs": 3600 })),
        (
            "POST /admin/v1/webhooks/{webhook_id}/replay",
            json!({ "topics": ["order.*"], "from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z" }),
        ),
        ("POST /admin/v1/statements/{statement_id}/paid", json!({ "paid_on": "2026-01-01", "bank_reference": "R1" })),
        (
            "POST /platform/v1/tenants/{tenant_id}/statements/{statement_id}/paid",
            json!({ "paid_on": "2026-01-01", "bank_reference": "R1" }),
        ),
        ("POST /admin/v1/orders/{order_id}/cancel-lines", json!({ "reason": "r" })),
        ("PUT /admin/v1/products/{product_id}/commission", json!({ "rate_bps": 1000, "effective_from": "2030-01-01" })),
        (
            "POST /admin/v1/promotions",
            json!({ "code": "NEW", "description": "d", "discount_type": "percent", "percent_off_bps": 500, "amount_off": null,
            "status": "active", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z",
            "min_subtotal": { "amount": 100, "currency": "JPY" }, "usage_limit_total": 5, "usage_limit_per_customer": 1 }),
        ),
        (
            "PATCH /admin/v1/promotions/{promotion_id}",
            json!({ "description": "d", "status": "inactive", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2099-01-01T00:00:00Z",
            "min_subtotal": { "amount": 100, "currency": "JPY" }, "usage_limit_total": 5, "usage_limit_per_customer": 1 }),
        ),
        ("POST /admin/v1/orders/{order_id}/deliveries/{delivery_id}/revoke", json!({ "reason": "r" })),
        (
            "POST /admin/v1/orders/{order_id}/deliveries/{delivery_id}/extend",
            json!({ "url_expires_at": "2030-01-01T00:00:00Z" }),
        ),
        (
            "POST /admin/v1/orders/{order_id}/deliveries/{delivery_id}/limit",
            json!({ "reset_count": true, "max_downloads": 5 }),
        ),
        (
            "PATCH /admin/v1/store/checkout-settings",
            json!({ "bank_transfer_enabled": true, "bank_transfer_due_days": 7,
            "bank_account": { "bank_name": "B", "branch_name": "本店", "account_type": "futsu", "account_number": "1234567", "account_holder_kana": "テンポ" },
            "cod_enabled": true, "cod_limit": { "amount": 300000, "currency": "JPY" },
            "cod_fee_tiers": [{ "up_to": { "amount": 10000, "currency": "JPY" }, "fee": { "amount": 330, "currency": "JPY" } }],
            "shipping_flat_fee": { "amount": 800, "currency": "JPY" }, "free_shipping_threshold": { "amount": 10000, "currency": "JPY" },
            "prefecture_fees": [{ "prefecture": "沖縄", "fee": { "amount": 1500, "currency": "JPY" } }],
            "delivery_slots": [{ "code": "am", "label": "午前中", "carrier_code": "0812" }],
            "delivery_lead_days": 1, "delivery_cutoff_hour": 12, "delivery_window_days": 14, "closed_weekdays": ["sun"],
            "closed_dates": ["2026-12-31"], "closed_on_holidays": true,
            "delivery_extra_days": [{ "prefecture": "沖縄", "days": 2 }, { "postal_code_prefix": "100-21", "days": 6 }] }),
        ),
    ])
}

/// Puts the test's ids into an example: a string "{name}" becomes the id of that name.
pub fn with_ids(example: &Value, ids: &BTreeMap<&str, String>) -> Value {
    match example {
        Value::String(s) if s.starts_with('{') && s.ends_with('}') => {
            ids.get(&s[1..s.len() - 1]).map(|id| Value::String(id.clone())).unwrap_or_else(|| example.clone())
        }
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), with_ids(v, ids))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(|v| with_ids(v, ids)).collect()),
        other => other.clone(),
    }
}

/// Broken copies of a valid body, each with what is wrong.
fn broken_bodies(example: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Value::Object(fields) = example else { return out };
    let mut with = |what: String, key: &str, value: Value| {
        let mut body = example.clone();
        body[key] = value;
        out.push((what, body));
    };
    for (key, value) in fields {
        let long = "あ".repeat(70_000);
        match value {
            Value::String(_) => {
                with(format!("{key}: number for a string"), key, json!(12345));
                with(format!("{key}: over-long string"), key, json!(long));
                with(format!("{key}: NUL character"), key, json!("a\u{0}b"));
                with(format!("{key}: object for a string"), key, json!({ "a": 1 }));
            }
            Value::Number(_) => {
                with(format!("{key}: string for a number"), key, json!("twelve"));
                with(format!("{key}: out of range"), key, json!(99999999999999999999u128 as f64));
                with(format!("{key}: fraction"), key, json!(1.5));
            }
            Value::Bool(_) => with(format!("{key}: string for a bool"), key, json!("yes")),
            Value::Null => with(format!("{key}: not an id"), key, json!("not-an-id")),
            _ => with(format!("{key}: array"), key, json!([1])),
        }
    }
    let mut unknown = example.clone();
    unknown["no_such_field"] = json!(1);
    out.push(("unknown field".into(), unknown));
    out.push(("an array, not an object".into(), json!([example])));
    out.push(("a number, not an object".into(), json!(42)));
    out
}

async fn snapshot(app: &TestApp) -> BTreeMap<String, String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace
            AND relname NOT IN ('staff_sessions', 'login_throttle', '_sqlx_migrations')",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let digest: String = sqlx::query_scalar(&format!(
            "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {t} t"
        ))
        .fetch_one(&app.owner)
        .await
        .unwrap();
        out.insert(t, digest);
    }
    out
}

fn fill_path(path: &str, ids: &BTreeMap<&str, String>) -> String {
    let mut p = path.to_string();
    for (name, id) in ids {
        p = p.replace(&format!("{{{name}}}"), id);
    }
    p
}

fn token_for(path: &str, shop: &Shop) -> Option<String> {
    if path.starts_with("/store/") {
        None
    } else if path.starts_with("/platform/") {
        Some(OPERATOR_TOKEN.into())
    } else if path == "/admin/v1/auth/login" {
        None
    } else {
        Some(shop.owner_token.clone())
    }
}

/// A JSON call, with the cart secret (storefront cart paths need it to get past the cart check).
async fn send(
    app: &TestApp,
    m: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    secret: &str,
) -> crate::support::Answer {
    let mut req = app.client.request(m, app.url(path)).header("x-cart-secret", secret);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    TestApp::read(req.send().await.unwrap()).await
}

#[track_caller]
fn assert_problem(what: &str, answer: &crate::support::Answer) {
    let s = answer.status.as_u16();
    assert!((400..500).contains(&s), "{what}: status {s}, body {}", answer.body);
    assert_eq!(answer.content_type, "application/problem+json", "{what}: {}", answer.body);
    assert!(answer.body["code"].as_str().is_some_and(|c| !c.is_empty()), "{what}: {}", answer.body);
}

#[tokio::test]
async fn bad_input_to_every_endpoint_is_a_4xx_problem_and_changes_nothing() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let (member, _) = app.member(&shop, "staff").await;
    let product = app
        .post(
            "/admin/v1/products",
            &shop.owner_token,
            json!({ "title": "Mug", "status": "active", "options": ["Colour"],
                    "variants": [{ "sku": "MUG-W", "option_values": ["White"], "price": { "amount": 1500, "currency": "JPY" }, "inventory_quantity": 5 }] }),
        )
        .await
        .expect(201);
    let cart = app
        .call(Method::POST, &format!("/store/v1/stores/{}/carts", shop.handle), None, Some(json!({})))
        .await
        .expect(201);
    let cart_id = cart["cart"]["id"].as_str().unwrap().to_string();
    let secret = cart["secret"].as_str().unwrap().to_string();
    let added = TestApp::read(
        app.client
            .post(app.url(&format!("/store/v1/stores/{}/carts/{cart_id}/items", shop.handle)))
            .header("x-cart-secret", &secret)
            .json(&json!({ "variant_id": product["variants"][0]["id"], "quantity": 1 }))
            .send()
            .await
            .unwrap(),
    )
    .await
    .expect(201);
    let customer = app
        .post("/admin/v1/customers", &shop.owner_token, json!({ "email": "bad-input@x.test", "name": "C" }))
        .await
        .expect(201);
    let address = app
        .post(
            &format!("/admin/v1/customers/{}/addresses", customer["id"].as_str().unwrap()),
            &shop.owner_token,
            json!({ "name": "C", "postal_code": "100-0001", "prefecture": "13", "city": "千代田区", "line1": "1" }),
        )
        .await
        .expect(201);
    // an order (from a cart of its own) and a promotion, for the order and promotion endpoints;
    // bank transfer needs the store's account
    app.with_bank_account(&shop).await;
    let order_cart = app
        .call(Method::POST, &format!("/store/v1/stores/{}/carts", shop.handle), None, Some(json!({})))
        .await
        .expect(201);
    let order_cart =
        (order_cart["cart"]["id"].as_str().unwrap().to_string(), order_cart["secret"].as_str().unwrap().to_string());
    crate::inventory::add(&app, &shop, &order_cart, product["variants"][0]["id"].as_str().unwrap(), 1, None)
        .await
        .expect(201);
    let placed = crate::checkout::checkout(
        &app,
        &shop,
        &order_cart,
        json!({ "email": "o@x.test", "shipping_address": crate::checkout::address("東京都"), "payment_method": "bank_transfer" }),
        None,
    )
    .await
    .expect(201);
    let promotion = app
        .post(
            "/admin/v1/promotions",
            &shop.owner_token,
            json!({ "code": "TEN", "discount_type": "percent", "percent_off_bps": 1000 }),
        )
        .await
        .expect(201);
    let webhook = app
        .post(
            "/admin/v1/webhooks",
            &shop.owner_token,
            json!({ "url": "https://93.184.215.14/hooks", "topics": ["order.*"] }),
        )
        .await
        .expect(201);
    let house = app
        .op(Method::GET, &format!("/platform/v1/tenants/{}/vendors", shop.tenant_id), None)
        .await
        .expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids = BTreeMap::from([
        ("tenant_id", shop.tenant_id.clone()),
        ("vendor_id", house),
        ("store_id", shop.store_id.clone()),
        ("location_id", shop.location_id.clone()),
        ("staff_id", member["id"].as_str().unwrap().to_string()),
        ("product_id", product["id"].as_str().unwrap().to_string()),
        ("variant_id", product["variants"][0]["id"].as_str().unwrap().to_string()),
        ("store", shop.handle.clone()),
        ("handle", "mug".to_string()),
        ("customer_id", customer["id"].as_str().unwrap().to_string()),
        ("address_id", address["id"].as_str().unwrap().to_string()),
        ("cart_id", cart_id.clone()),
        ("item_id", added["item_id"].as_str().unwrap().to_string()),
        ("request_id", added["request_id"].as_str().unwrap().to_string()),
        ("order_id", placed["order"]["id"].as_str().unwrap().to_string()),
        ("shipment_id", placed["order"]["shipments"][0]["id"].as_str().unwrap().to_string()),
        ("promotion_id", promotion["id"].as_str().unwrap().to_string()),
        // well-formed ids of nothing: bad bodies are refused before any lookup
        ("delivery_id", "0190a0a0-0000-7000-8000-000000000002".to_string()),
        ("asset_id", "0190a0a0-0000-7000-8000-000000000003".to_string()),
        ("image_id", "0190a0a0-0000-7000-8000-000000000006".to_string()),
        ("statement_id", "0190a0a0-0000-7000-8000-000000000004".to_string()),
        ("webhook_id", webhook["id"].as_str().unwrap().to_string()),
        ("webhook_delivery_id", "0190a0a0-0000-7000-8000-000000000005".to_string()),
    ]);
    let spec = app.call(Method::GET, "/openapi.json", None, None).await.expect(200);
    let examples = examples();
    let before = snapshot(&app).await;
    let mut missing = Vec::new();
    let mut sent = 0;

    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(m) = method.to_uppercase().parse::<Method>() else { continue };
            let key = format!("{} {path}", m.as_str());
            let token = token_for(path, &shop);
            let url = fill_path(path, &ids);

            let needs_order_token =
                op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["name"] == "x-order-token"));
            // a malformed id in every path parameter
            // a malformed id in every id parameter (handles are free text)
            for name in ids.keys().filter(|n| n.ends_with("_id") && path.contains(&format!("{{{n}}}"))) {
                let mut bad = ids.clone();
                bad.insert(name, "not-an-id".into());
                let body = op["requestBody"]["content"]
                    .get("application/json")
                    .map(|_| examples.get(key.as_str()).cloned().unwrap_or(json!({})));
                let a = send(&app, m.clone(), &fill_path(path, &bad), token.as_deref(), body, &secret).await;
                assert_problem(&format!("{key} with {name}=not-an-id"), &a);
                // (an order's downloads check the order token, which this test does not send, first)
                if !needs_order_token {
                    assert_eq!(
                        (a.status.as_u16(), &a.body["code"]),
                        (400, &json!("invalid_path")),
                        "{key} with {name}=not-an-id"
                    );
                }
                sent += 1;
            }
            // text PostgreSQL cannot store, in every path parameter and every query parameter
            for name in ids.keys().filter(|n| path.contains(&format!("{{{n}}}"))) {
                let mut bad = ids.clone();
                bad.insert(name, format!("{}%00", ids[name]));
                let a = send(&app, m.clone(), &fill_path(path, &bad), token.as_deref(), None, &secret).await;
                assert_eq!(
                    (a.status.as_u16(), &a.body["code"]),
                    (400, &json!("invalid_path")),
                    "{key} with NUL in {name}"
                );
                sent += 1;
            }
            for p in op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "query") {
                let q = format!("{}=a%00b", p["name"].as_str().unwrap());
                let a = send(&app, m.clone(), &format!("{url}?{q}"), token.as_deref(), None, &secret).await;
                assert_eq!((a.status.as_u16(), &a.body["code"]), (400, &json!("invalid_query")), "{key}?{q}");
                sent += 1;
            }
            // malformed list parameters
            if op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["name"] == "cursor")) {
                for q in ["limit=abc", "limit=0", "limit=100000", "cursor=%%%", "cursor=eyJub3QiOiJ5b3VycyJ9"] {
                    let a = send(&app, m.clone(), &format!("{url}?{q}"), token.as_deref(), None, &secret).await;
                    assert_problem(&format!("{key}?{q}"), &a);
                    sent += 1;
                }
            }
            // only JSON bodies are broken here (CSV uploads have their own tests)
            if op["requestBody"]["content"].get("application/json").is_none() {
                continue;
            }
            let Some(example) = examples.get(key.as_str()) else {
                missing.push(key);
                continue;
            };
            for (what, body) in broken_bodies(&with_ids(example, &ids)) {
                let a = send(&app, m.clone(), &url, token.as_deref(), Some(body), &secret).await;
                assert_problem(&format!("{key}: {what}"), &a);
                sent += 1;
            }
            let raw = |ct: &'static str, bytes: Vec<u8>| {
                let mut req = app
                    .client
                    .request(m.clone(), app.url(&url))
                    .header("content-type", ct)
                    .header("x-cart-secret", &secret)
                    .body(bytes);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                req
            };
            for (what, req) in [
                ("malformed JSON", raw("application/json", br#"{"name": "#.to_vec())),
                ("empty body", raw("application/json", Vec::new())),
                ("not JSON content type", raw("text/plain", serde_json::to_vec(example).unwrap())),
                ("oversized body", raw("application/json", vec![b' '; 3 * 1024 * 1024])),
            ] {
                let a = TestApp::read(req.send().await.unwrap()).await;
                assert_problem(&format!("{key}: {what}"), &a);
                sent += 1;
            }
        }
    }
    assert!(missing.is_empty(), "add valid examples for {missing:?}");
    assert!(sent > 200, "only {sent} bad requests were sent");
    assert_eq!(snapshot(&app).await, before, "bad input changed the database");
}

#[tokio::test]
async fn validation_names_every_bad_field() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let body = app
        .post(
            "/admin/v1/staff",
            &shop.owner_token,
            json!({ "email": "not-an-email", "phone": "12", "password": "short", "role": "staff" }),
        )
        .await
        .expect_problem(422, "validation_failed");
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["email", "phone", "password"]);
    let unknown = app
        .post(
            "/admin/v1/staff",
            &shop.owner_token,
            json!({ "email": "a@b.test", "password": "long-enough-pw", "role": "boss" }),
        )
        .await;
    let body = unknown.expect_problem(422, "invalid_body");
    assert!(body["detail"].as_str().unwrap().contains("role"), "{body}");
}
