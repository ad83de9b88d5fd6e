//! Vendor scope: a vendor's staff reach their own vendor's part and nothing of another vendor's.
//!
//! The walk takes every `/admin/v1` operation of the served OpenAPI document, so a new route is
//! covered the day it exists: no list of routes is kept here. Path parameters come from the path
//! templates themselves.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

use super::{Product, Vendor, digital_product, mall, order, product, shipment_of, vendor};
use crate::checkout::yen;
use crate::support::fixtures::PASSWORD;
use crate::support::{Answer, Shop, TestApp};

/// Two vendors with products, staff, a warehouse each, and orders: one of B alone (paid, with a
/// digital delivery) and one shared by A and B (paid, B's digital line delivered).
struct World {
    shop: Shop,
    a: Vendor,
    b: Vendor,
    a_product: Product,
    b_product: Product,
    b_only: Value,
    shared: Value,
    /// B's ids for every path parameter, and strings only B's rows carry.
    theirs: BTreeMap<&'static str, String>,
    /// For paths with several parameters: the parent A's own (A's product, the shared order),
    /// the rest B's (B's variant, B's shipment and delivery in the shared order).
    ours_then_theirs: BTreeMap<&'static str, String>,
    b_markers: BTreeSet<String>,
}

async fn paid(app: &TestApp, shop: &Shop, order: &Value) {
    let id = order["id"].as_str().unwrap();
    app.post(
        &format!("/admin/v1/orders/{id}/payments/confirm"),
        &shop.owner_token,
        json!({ "received": order["total"] }),
    )
    .await
    .expect(200);
}

/// The deliveries of an order once the worker created them.
async fn deliveries(app: &TestApp, shop: &Shop, order: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let d = app.get(&format!("/admin/v1/orders/{order}/deliveries"), &shop.owner_token).await.expect(200);
        let list = d["deliveries"].as_array().unwrap().clone();
        if list.len() >= n {
            return list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the deliveries of {order} never came");
}

async fn world(app: &TestApp) -> World {
    let shop = mall(app).await;
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let a = vendor(app, &shop, &format!("Vendor A {tag}"), 1000).await;
    let b = vendor(app, &shop, &format!("Vendor B {tag}"), 1200).await;
    let a_product = product(app, &a, "A teapot", "A-POT", 4400, "standard", 30).await;
    let b_product = product(app, &b, "B秘密の抹茶", "B-SECRET-TEA", 1620, "reduced", 30).await;
    let b_digital = digital_product(app, &b, "B秘密のガイド", "B-SECRET-PDF", 550).await;
    let b_only = order(
        app,
        &shop,
        &[(&b_product.variant, 1), (&b_digital.variant, 1)],
        "b-only-shopper@example.jp",
        "bank_transfer",
    )
    .await;
    paid(app, &shop, &b_only).await;
    let shared = order(
        app,
        &shop,
        &[(&a_product.variant, 1), (&b_product.variant, 2), (&b_digital.variant, 1)],
        "shared-shopper@example.jp",
        "bank_transfer",
    )
    .await;
    paid(app, &shop, &shared).await;
    let b_only_delivery =
        deliveries(app, &shop, b_only["id"].as_str().unwrap(), 1).await[0]["id"].as_str().unwrap().to_string();
    let shared_delivery =
        deliveries(app, &shop, shared["id"].as_str().unwrap(), 1).await[0]["id"].as_str().unwrap().to_string();
    let asset = app
        .get(&format!("/admin/v1/products/{}/variants/{}/asset", b_digital.id, b_digital.variant), &b.owner.token)
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_string();
    // an image of B's product, settled (ready) before B's rows are taken
    let image = b_image(app, &b, &b_product.id).await;
    let customer = app
        .post("/admin/v1/customers", &shop.owner_token, json!({ "email": "mall-customer@example.jp", "name": "客" }))
        .await
        .expect(201);
    let customer_id = customer["id"].as_str().unwrap().to_string();
    let address = app
        .post(
            &format!("/admin/v1/customers/{customer_id}/addresses"),
            &shop.owner_token,
            json!({ "name": "客", "postal_code": "100-0001", "prefecture": "13", "city": "千代田区", "line1": "1" }),
        )
        .await
        .expect(201);
    let promotion = app
        .post(
            "/admin/v1/promotions",
            &shop.owner_token,
            json!({ "code": "MALL5", "discount_type": "percent", "percent_off_bps": 500 }),
        )
        .await
        .expect(201);

    // B's statement (its paid digital line counted), closed by the mall
    let b_statement = app
        .post(&format!("/admin/v1/vendors/{}/statements/close", b.id), &shop.owner_token, json!({}))
        .await
        .expect(200);
    assert!(!b_statement["lines"].as_array().unwrap().is_empty(), "{b_statement}");
    let b_statement = b_statement["id"].as_str().unwrap().to_string();
    let mall_webhook = app
        .post(
            "/admin/v1/webhooks",
            &shop.owner_token,
            json!({ "url": "https://93.184.215.14/hooks", "topics": ["*"], "enabled": false }),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let common = |m: &mut BTreeMap<&'static str, String>| {
        m.insert("customer_id", customer_id.clone());
        m.insert("address_id", address["id"].as_str().unwrap().into());
        m.insert("promotion_id", promotion["id"].as_str().unwrap().into());
        m.insert("asset_id", asset.clone());
        m.insert("image_id", image.clone());
        m.insert("location_id", b.location_id.clone());
        m.insert("staff_id", b.staff.id.clone());
        m.insert("vendor_id", b.id.clone());
        m.insert("kind", "invoice".to_string());
        m.insert("statement_id", b_statement.clone());
        // webhooks are the mall's alone: any endpoint and delivery id is refused to vendors
        m.insert("webhook_id", mall_webhook.clone());
        m.insert("webhook_delivery_id", "0190a0a0-0000-7000-8000-0000000000d1".to_string());
    };
    let mut theirs = BTreeMap::new();
    common(&mut theirs);
    theirs.insert("product_id", b_product.id.clone());
    theirs.insert("variant_id", b_product.variant.clone());
    theirs.insert("order_id", b_only["id"].as_str().unwrap().into());
    theirs.insert("shipment_id", shipment_of(&b_only, &b));
    theirs.insert("delivery_id", b_only_delivery.clone());
    let mut ours_then_theirs = theirs.clone();
    ours_then_theirs.insert("product_id", a_product.id.clone());
    ours_then_theirs.insert("order_id", shared["id"].as_str().unwrap().into());
    ours_then_theirs.insert("shipment_id", shipment_of(&shared, &b));
    ours_then_theirs.insert("delivery_id", shared_delivery.clone());

    // what only B's rows carry
    let mut b_markers: BTreeSet<String> = [
        b.id.clone(),
        b.name.clone(),
        b.location_id.clone(),
        b_product.id.clone(),
        b_product.variant.clone(),
        b_digital.id.clone(),
        b_digital.variant.clone(),
        "B-SECRET".into(),
        "B秘密".into(),
        "b-only-shopper".into(),
        b_only["id"].as_str().unwrap().into(),
        shipment_of(&b_only, &b),
        shipment_of(&shared, &b),
        b_only_delivery,
        shared_delivery,
        asset,
        image,
        "Bの画像".into(),
        b_statement.clone(),
    ]
    .into();
    for m in [&b.owner, &b.admin, &b.staff] {
        b_markers.insert(m.id.clone());
        b_markers.insert(m.email.clone());
    }
    for o in [&b_only, &shared] {
        for line in o["items"].as_array().unwrap() {
            if line["vendor_id"] == b.id.as_str() {
                b_markers.insert(line["id"].as_str().unwrap().into());
            }
        }
    }
    World { shop, a, b, a_product, b_product, b_only, shared, theirs, ours_then_theirs, b_markers }
}

/// A digest of every row that is B's, to show nothing of B changed.
async fn b_rows(app: &TestApp, w: &World) -> Vec<String> {
    let vendor = &w.b.id;
    let b_only = w.b_only["id"].as_str().unwrap();
    let queries = [
        format!("SELECT t::text FROM vendors t WHERE id = '{vendor}'"),
        format!("SELECT t::text FROM products t WHERE vendor_id = '{vendor}'"),
        format!(
            "SELECT t::text FROM variants t WHERE product_id IN (SELECT id FROM products WHERE vendor_id = '{vendor}')"
        ),
        format!(
            "SELECT t::text FROM inventory_stocks t WHERE location_id = '{}' OR variant_id IN
               (SELECT v.id FROM variants v JOIN products p ON p.id = v.product_id WHERE p.vendor_id = '{vendor}')",
            w.b.location_id
        ),
        format!("SELECT t::text FROM store_locations t WHERE vendor_id = '{vendor}'"),
        format!("SELECT t::text FROM store_staff t WHERE vendor_id = '{vendor}'"),
        format!(
            "SELECT t::text FROM staff_sessions t WHERE staff_id IN (SELECT id FROM store_staff WHERE vendor_id = '{vendor}')"
        ),
        format!("SELECT t::text FROM order_items t WHERE vendor_id = '{vendor}'"),
        format!("SELECT t::text FROM shipments t WHERE vendor_id = '{vendor}'"),
        format!("SELECT t::text FROM orders t WHERE id = '{b_only}'"),
        format!("SELECT t::text FROM payments t WHERE order_id = '{b_only}'"),
        format!(
            "SELECT t::text FROM digital_deliveries t WHERE order_item_id IN (SELECT id FROM order_items WHERE vendor_id = '{vendor}')"
        ),
        format!(
            "SELECT t::text FROM digital_assets t WHERE id IN (SELECT digital_asset_id FROM variants v JOIN products p
               ON p.id = v.product_id WHERE p.vendor_id = '{vendor}')"
        ),
    ];
    let queries = queries.into_iter().chain([format!(
        "SELECT t::text FROM product_images t WHERE product_id IN (SELECT id FROM products WHERE vendor_id = '{vendor}')"
    )]);
    let mut out = Vec::new();
    for q in queries {
        let rows: Vec<String> = sqlx::query_scalar(&format!("{q} ORDER BY 1")).fetch_all(&app.owner).await.unwrap();
        out.push(rows.join("\n"));
    }
    out
}

/// The `{name}` segments of a path template.
fn params(path: &str) -> Vec<String> {
    path.split('/').filter(|s| s.starts_with('{') && s.ends_with('}')).map(|s| s[1..s.len() - 1].to_string()).collect()
}

fn fill(path: &str, ids: &BTreeMap<&str, String>) -> String {
    let mut out = path.to_string();
    for name in params(path) {
        out = out.replace(&format!("{{{name}}}"), &ids[name.as_str()]);
    }
    out
}

fn leaks(body: &str, markers: &BTreeSet<String>) -> Vec<String> {
    markers.iter().filter(|m| body.contains(m.as_str())).cloned().collect()
}

/// Sends an operation of the document as a member, with a valid body for its content type and
/// its required query parameters, so the answer reflects the lookup, not the input.
async fn send(
    app: &TestApp,
    op: &Value,
    method: &Method,
    url: &str,
    token: Option<&str>,
    ids: &BTreeMap<&str, String>,
    key: &str,
) -> Answer {
    let mut query: Vec<(String, String)> = Vec::new();
    for p in op["parameters"].as_array().into_iter().flatten() {
        if p["in"] == "query" && p["required"] == true {
            let value = if p["schema"]["type"] == "integer" { "1".to_string() } else { "x.bin".to_string() };
            query.push((p["name"].as_str().unwrap().into(), value));
        }
    }
    let mut req = app.client.request(method.clone(), app.url(url)).query(&query);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let content = &op["requestBody"]["content"];
    if content.get("application/json").is_some() {
        let example = crate::foundation::bad_input::examples().get(key).cloned().unwrap_or(json!({}));
        req = req.json(&crate::foundation::bad_input::with_ids(&example, ids));
    } else if content.get("application/octet-stream").is_some() {
        req = req.header("content-type", "application/octet-stream").body(b"some bytes".to_vec());
    } else if content.get("text/csv").is_some() {
        req = req.header("content-type", "text/csv").body("Handle,Title\nx,X\n");
    }
    TestApp::read(req.send().await.unwrap()).await
}

#[tokio::test]
async fn every_admin_operation_as_vendor_a_with_vendor_b_ids_is_a_404_or_leaves_b_out() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let before = b_rows(&app, &w).await;
    let spec = app.call(Method::GET, "/openapi.json", None, None).await.expect(200);
    let mut unknown_params = BTreeSet::new();
    let mut failures = Vec::new();
    let mut calls = 0;

    for (role, m) in w.a.members() {
        let mut token = m.token.clone();
        for (path, item) in spec["paths"].as_object().unwrap() {
            if !path.starts_with("/admin/v1/") {
                continue;
            }
            let names = params(path);
            if let Some(missing) = names.iter().find(|n| !w.theirs.contains_key(n.as_str())) {
                unknown_params.insert(format!("{path}: {missing}"));
                continue;
            }
            for (method, op) in item.as_object().unwrap() {
                let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
                let key = format!("{} {path}", method.as_str());
                let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
                // all of B's ids; and with several ids, the first A's own (or shared); `kind`
                // (which document) is no id
                let mut passes = vec![&w.theirs];
                if names.iter().filter(|n| n.as_str() != "kind").count() > 1 {
                    passes.push(&w.ours_then_theirs);
                }
                for ids in passes {
                    let url = fill(path, ids);
                    let mut a = send(&app, op, &method, &url, secured.then_some(token.as_str()), ids, &key).await;
                    if secured && a.status == 401 {
                        // an earlier call signed this member out (logout): sign in again
                        token = app.login(&w.shop.handle, &m.email, PASSWORD).await;
                        a = send(&app, op, &method, &url, Some(&token), ids, &key).await;
                    }
                    calls += 1;
                    let status = a.status.as_u16();
                    let text = a.body.to_string();
                    let what = format!("{role}: {} {url}", method.as_str());
                    if status >= 500 {
                        failures.push(format!("{what}: {status} {text}"));
                    } else if !names.is_empty() {
                        let denied = status == 403 && a.body["code"] == "permission_denied";
                        if status != 404 && !denied {
                            failures.push(format!("{what}: expected 404, got {status} {text}"));
                        }
                    }
                    let leaked = leaks(&text, &w.b_markers);
                    if !leaked.is_empty() {
                        failures.push(format!("{what}: {status} shows B's {leaked:?}"));
                    }
                }
            }
        }
    }
    assert!(unknown_params.is_empty(), "give B's id for these path parameters: {unknown_params:?}");
    assert!(failures.is_empty(), "{} of {calls} calls went wrong:\n{}", failures.len(), failures.join("\n"));
    assert!(calls > 150, "only {calls} calls");
    assert_eq!(b_rows(&app, &w).await, before, "vendor A's staff changed B's rows");
}

#[tokio::test]
async fn a_vendor_sees_its_part_of_a_shared_order_and_no_more() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let shared = w.shared["id"].as_str().unwrap();
    // the mall sees the whole order
    let whole = app.get(&format!("/admin/v1/orders/{shared}"), &w.shop.owner_token).await.expect(200);
    assert_eq!(whole["items"].as_array().unwrap().len(), 3);
    assert_eq!(whole["total"], w.shared["total"]);

    for (role, m) in w.a.members() {
        let view = app.get(&format!("/admin/v1/orders/{shared}"), &m.token).await.expect(200);
        let text = view.to_string();
        assert!(leaks(&text, &w.b_markers).is_empty(), "{role}: {:?}", leaks(&text, &w.b_markers));
        assert_eq!(view["vendor_id"], w.a.id.as_str());
        let items = view["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["variant_id"], w.a_product.variant.as_str());
        assert_eq!(view["shipments"].as_array().unwrap().len(), 1);
        // A's part: one teapot at 4,400 and its share of the 800 shipping (by goods: 4,400 of
        // the 7,640 shipped, 460.7 -> 461), no other vendor's goods
        assert_eq!(view["subtotal"], yen(4400));
        assert_eq!(view["shipping_fee"], yen(461));
        assert_eq!(view["total"], yen(4861));
        // floor(4,861 × 10/110) = 441
        assert_eq!(view["tax_lines"], json!([{ "rate_bps": 1000, "taxable_amount": 4861, "tax_amount": 441 }]));
        assert_eq!(view["payment"]["method"], "bank_transfer");
        assert_eq!(view["payment"]["status"], "confirmed");
        assert_eq!(view["payment"]["amount"], yen(4861));
        assert!(view["payment"]["received"].is_null());
        assert!(view.get("history").is_none() && view["customer_id"].is_null() && view["billing_address"].is_null());
        // what it needs to ship
        assert_eq!(view["email"], "shared-shopper@example.jp");
        assert_eq!(view["shipping_address"]["name"], "山田 花子");
        assert_eq!(view["shipping_address"]["line1"], "1-2-3");
        // the list shows the order with A's total; the B-only order is not there
        let list = app.get("/admin/v1/orders", &m.token).await.expect(200);
        let orders = list["items"].as_array().unwrap();
        assert_eq!(orders.len(), 1, "{role}: {list}");
        assert_eq!(orders[0]["total"], yen(4861));
        // B's own order is a 404
        let b_only = w.b_only["id"].as_str().unwrap();
        app.get(&format!("/admin/v1/orders/{b_only}"), &m.token).await.expect_problem(404, "order_not_found");
    }
    // the export for A's owner: A's part only
    let csv = app.client.get(app.url("/admin/v1/orders/export")).bearer_auth(&w.a.owner.token).send().await.unwrap();
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains(",4861,441,"), "A's taxable amount and tax at 10%: {csv}");
    assert!(!csv.contains("b-only-shopper"));
}

#[tokio::test]
async fn shopper_contact_details_are_masked_for_vendors_after_delivery() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let shared = w.shared["id"].as_str().unwrap();
    let a_shipment = shipment_of(&w.shared, &w.a);
    let base = format!("/admin/v1/orders/{shared}/shipments/{a_shipment}");
    app.post(&format!("{base}/ship"), &w.a.staff.token, json!({ "carrier": "ヤマト運輸", "tracking_no": "1111" }))
        .await
        .expect(200);
    app.post(&format!("{base}/deliver"), &w.a.staff.token, json!({})).await.expect(200);
    // 30 days by default: still shown
    let view = app.get(&format!("/admin/v1/orders/{shared}"), &w.a.staff.token).await.expect(200);
    assert_eq!(view["email"], "shared-shopper@example.jp");
    assert!(view.get("contact_masked").is_none());
    // the mall shortens it to 0 days: masked at once, for A; B has not delivered, so not for B
    app.patch("/admin/v1/mall/settings", &w.shop.owner_token, json!({ "contact_mask_days": 0 })).await.expect(200);
    let view = app.get(&format!("/admin/v1/orders/{shared}"), &w.a.staff.token).await.expect(200);
    assert_eq!(view["contact_masked"], true);
    assert_eq!(view["email"], "***");
    let a = &view["shipping_address"];
    assert_eq!((a["name"].as_str(), a["line1"].as_str(), a["phone"].as_str()), (Some("***"), Some("***"), Some("***")));
    assert_eq!(a["prefecture"], "東京都", "the prefecture and postal code stay");
    assert_eq!(a["postal_code"], "150-0001");
    let list = app.get("/admin/v1/orders", &w.a.staff.token).await.expect(200);
    assert_eq!(list["items"][0]["email"], "***");
    let view = app.get(&format!("/admin/v1/orders/{shared}"), &w.b.staff.token).await.expect(200);
    assert_eq!(view["email"], "shared-shopper@example.jp");
    // the mall's own staff always see them
    let whole = app.get(&format!("/admin/v1/orders/{shared}"), &w.shop.owner_token).await.expect(200);
    assert_eq!(whole["email"], "shared-shopper@example.jp");
    // vendors cannot change the setting, nor read the mall's settings
    app.patch("/admin/v1/mall/settings", &w.a.owner.token, json!({ "contact_mask_days": 90 }))
        .await
        .expect_problem(403, "permission_denied");
}

#[tokio::test]
async fn the_reported_leaks_are_closed() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    // A's staff change B's stock: 404, and B's stock stays
    app.post(
        "/admin/v1/inventory/adjustments",
        &w.a.staff.token,
        json!({ "variant_id": w.b_product.variant, "location_id": w.b.location_id, "delta": -5, "reason": "damage" }),
    )
    .await
    .expect_problem(404, "variant_not_found");
    app.post(
        "/admin/v1/inventory/adjustments",
        &w.a.staff.token,
        json!({ "variant_id": w.a_product.variant, "location_id": w.b.location_id, "delta": 5, "reason": "receipt" }),
    )
    .await
    .expect_problem(404, "location_not_found");
    // not even the mall puts A's goods in B's warehouse
    app.post(
        "/admin/v1/inventory/adjustments",
        &w.shop.owner_token,
        json!({ "variant_id": w.a_product.variant, "location_id": w.b.location_id, "delta": 5, "reason": "receipt" }),
    )
    .await
    .expect_problem(422, "another_vendors_location");
    // A's admin cancels the shared order: refused (whole orders are the mall's)
    let shared = w.shared["id"].as_str().unwrap();
    app.post(&format!("/admin/v1/orders/{shared}/cancel"), &w.a.admin.token, json!({ "reason": "x" }))
        .await
        .expect_problem(403, "permission_denied");
    // A's admin adds a member without a vendor: refused
    let body = json!({ "email": "escape@x.test", "password": PASSWORD, "role": "staff", "vendor_id": null });
    app.post("/admin/v1/staff", &w.a.admin.token, body).await.expect_problem(403, "outside_vendor_scope");
    // A's lists hold A's rows only
    let products = app.get("/admin/v1/products", &w.a.staff.token).await.expect(200);
    let ids: Vec<&str> = products["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [w.a_product.id.as_str()]);
    let vendors = app.get("/admin/v1/vendors", &w.a.staff.token).await.expect(200);
    assert_eq!(vendors["items"].as_array().unwrap().len(), 1);
    let locations = app.get("/admin/v1/locations", &w.a.staff.token).await.expect(200);
    let ids: Vec<&str> = locations.as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [w.a.location_id.as_str()]);
    let levels = app.get("/admin/v1/inventory/levels", &w.a.staff.token).await.expect(200);
    assert!(levels["items"].as_array().unwrap().iter().all(|l| l["location_id"] == w.a.location_id.as_str()));
    // a vendor's staff never see the store's settings, customers or promotions
    for path in
        ["/admin/v1/store/settings", "/admin/v1/store/checkout-settings", "/admin/v1/customers", "/admin/v1/promotions"]
    {
        app.get(path, &w.a.owner.token).await.expect_problem(403, "permission_denied");
    }
}

#[tokio::test]
async fn escalation_by_a_vendor_admin_is_refused() {
    let app = TestApp::spawn().await;
    let shop = mall(&app).await;
    let a = vendor(&app, &shop, "Vendor A", 1000).await;
    let b = vendor(&app, &shop, "Vendor B", 1000).await;
    // a new member's body; `None` leaves vendor_id out
    let staff = |vendor: Option<Value>, role: &str| {
        let email = format!("esc-{}@x.test", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut body = json!({ "email": email, "password": PASSWORD, "role": role });
        if let Some(v) = vendor {
            body["vendor_id"] = v;
        }
        body
    };
    // a member without a vendor, or of vendor B, or above the admin's own role
    app.post("/admin/v1/staff", &a.admin.token, staff(Some(Value::Null), "staff"))
        .await
        .expect_problem(403, "outside_vendor_scope");
    app.post("/admin/v1/staff", &a.admin.token, staff(Some(json!(b.id)), "staff"))
        .await
        .expect_problem(404, "vendor_not_found");
    for role in ["admin", "owner"] {
        app.post("/admin/v1/staff", &a.admin.token, staff(Some(json!(a.id)), role))
            .await
            .expect_problem(403, "cannot_manage_role");
    }
    // changing B's members, or lifting one of A's above the admin's role
    app.patch(&format!("/admin/v1/staff/{}", b.staff.id), &a.admin.token, json!({ "name": "mine now" }))
        .await
        .expect_problem(404, "staff_not_found");
    app.post(&format!("/admin/v1/staff/{}/revoke-sessions", b.staff.id), &a.admin.token, json!({}))
        .await
        .expect_problem(404, "staff_not_found");
    app.patch(&format!("/admin/v1/staff/{}", a.staff.id), &a.admin.token, json!({ "role": "admin" }))
        .await
        .expect_problem(403, "cannot_manage_role");
    app.patch(&format!("/admin/v1/staff/{}", a.admin.id), &a.admin.token, json!({ "role": "owner" }))
        .await
        .expect_problem(403, "cannot_manage_role");
    // the mall's own staff, and staff in general, are not in reach either
    let (mall_staff, _) = app.member(&shop, "staff").await;
    app.delete(&format!("/admin/v1/staff/{}", mall_staff["id"].as_str().unwrap()), &a.admin.token)
        .await
        .expect_problem(404, "staff_not_found");
    // what is allowed: a staff member of A, with or without naming A; they belong to A
    let made = app.post("/admin/v1/staff", &a.admin.token, staff(None, "staff")).await.expect(201);
    assert_eq!(made["vendor_id"], a.id.as_str());
    let made = app.post("/admin/v1/staff", &a.admin.token, staff(Some(json!(a.id)), "staff")).await.expect(201);
    assert_eq!(made["vendor_id"], a.id.as_str());
    let list = app.get("/admin/v1/staff", &a.admin.token).await.expect(200);
    assert!(list["items"].as_array().unwrap().iter().all(|s| s["vendor_id"] == a.id.as_str()), "{list}");
    // A's owner cannot be demoted by A's other owner when it is the last; the mall owner stays the mall's
    app.patch(&format!("/admin/v1/staff/{}", a.owner.id), &a.owner.token, json!({ "role": "admin" }))
        .await
        .expect_problem(409, "last_owner");
    // a single-brand tenant has no vendor staff
    let single = app.shop().await;
    let house = app
        .op(Method::GET, &format!("/platform/v1/tenants/{}/vendors", single.tenant_id), None)
        .await
        .expect(200)["items"][0]["id"]
        .clone();
    app.post("/admin/v1/staff", &single.owner_token, staff(Some(house), "staff"))
        .await
        .expect_problem(422, "validation_failed");
}

/// Uploads an image of B's product as B's staff and waits until the worker has settled it.
async fn b_image(app: &TestApp, b: &Vendor, product: &str) -> String {
    let png = images::pixels::sample(images::pixels::Format::Png, 120, 90);
    let res = app
        .client
        .post(app.url(&format!("/admin/v1/products/{product}/images?alt=B%E3%81%AE%E7%94%BB%E5%83%8F")))
        .bearer_auth(&b.owner.token)
        .body(png)
        .send()
        .await
        .unwrap();
    let image = TestApp::read(res).await.expect(201)["id"].as_str().unwrap().to_string();
    for _ in 0..300 {
        let list = app.get(&format!("/admin/v1/products/{product}/images"), &b.owner.token).await.expect(200);
        if list[0]["status"] == "ready" {
            return image;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("B's image was not settled");
}
