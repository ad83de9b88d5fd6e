//! Mall mode: vendor scope, vendors, commission, vendor cancellations, statements.

mod cancel;
mod closing;
mod commission;
mod scope;
mod statements;
mod vendors;

use reqwest::Method;
use serde_json::{Value, json};

use crate::checkout::yen;
use crate::support::fixtures::PASSWORD;
use crate::support::{Shop, TestApp};

/// A staff member, signed in.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub email: String,
    pub token: String,
}

/// A vendor of a mall with its own warehouse and an owner, an admin and a staff member.
#[derive(Debug, Clone)]
pub struct Vendor {
    pub id: String,
    pub name: String,
    pub location_id: String,
    pub owner: Member,
    pub admin: Member,
    pub staff: Member,
}

impl Vendor {
    pub fn members(&self) -> [(&'static str, &Member); 3] {
        [("owner", &self.owner), ("admin", &self.admin), ("staff", &self.staff)]
    }
}

/// A product of a vendor: (product id, first variant id).
#[derive(Debug, Clone)]
pub struct Product {
    pub id: String,
    pub variant: String,
}

/// A mall tenant with one store, ready to sell (shipping 800 flat, free from 10,000; COD with
/// the usual tiers; a bank account).
pub async fn mall(app: &TestApp) -> Shop {
    let shop = app.shop_of_kind("mall").await;
    app.patch(
        "/admin/v1/store/checkout-settings",
        &shop.owner_token,
        json!({
            "shipping_flat_fee": yen(800),
            "free_shipping_threshold": yen(10_000),
            "cod_enabled": true,
            "cod_limit": yen(300_000),
            "cod_fee_tiers": [{ "up_to": yen(10_000), "fee": yen(330) }, { "up_to": yen(30_000), "fee": yen(440) }, { "up_to": yen(300_000), "fee": yen(660) }],
            "bank_account": { "bank_name": "テスト銀行", "branch_name": "本店", "account_type": "futsu", "account_number": "1234567", "account_holder_kana": "テンポ" }
        }),
    )
    .await
    .expect(200);
    shop
}

/// Adds a member to the mall's store as its owner, for a vendor (or none), and signs them in.
pub async fn member(app: &TestApp, shop: &Shop, vendor: Option<&str>, role: &str) -> Member {
    let email = format!("{role}-{}@{}.test", &uuid::Uuid::new_v4().simple().to_string()[..8], shop.handle);
    let body = app
        .post(
            "/admin/v1/staff",
            &shop.owner_token,
            json!({ "email": email, "password": PASSWORD, "role": role, "vendor_id": vendor }),
        )
        .await
        .expect(201);
    assert_eq!(body["vendor_id"].as_str(), vendor);
    let token = app.login(&shop.handle, &email, PASSWORD).await;
    Member { id: body["id"].as_str().unwrap().into(), email, token }
}

/// A vendor of the mall (through the operator API) with a warehouse and three members.
pub async fn vendor(app: &TestApp, shop: &Shop, name: &str, commission_bps: i32) -> Vendor {
    let v = app
        .op(
            Method::POST,
            &format!("/platform/v1/tenants/{}/vendors", shop.tenant_id),
            Some(json!({ "name": name, "commission_rate_bps": commission_bps })),
        )
        .await
        .expect(201);
    let id = v["id"].as_str().unwrap().to_string();
    let code = format!("wh-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let location = app
        .post(
            "/admin/v1/locations",
            &shop.owner_token,
            json!({ "code": code, "name": format!("{name} warehouse"), "priority": 10, "vendor_id": id }),
        )
        .await
        .expect(201);
    assert_eq!(location["vendor_id"], id.as_str());
    Vendor {
        name: name.into(),
        location_id: location["id"].as_str().unwrap().into(),
        owner: member(app, shop, Some(&id), "owner").await,
        admin: member(app, shop, Some(&id), "admin").await,
        staff: member(app, shop, Some(&id), "staff").await,
        id,
    }
}

/// An active product of the vendor, created by its owner, with one variant: physical ones get
/// `stock` units at the vendor's warehouse.
pub async fn product(app: &TestApp, v: &Vendor, title: &str, sku: &str, price: i64, tax: &str, stock: i32) -> Product {
    let variant = json!({ "sku": sku, "price": yen(price), "tax_class": tax, "inventory_quantity": stock });
    let p = app
        .post(
            "/admin/v1/products",
            &v.owner.token,
            json!({ "title": title, "status": "active", "variants": [variant] }),
        )
        .await
        .expect(201);
    assert_eq!(p["vendor_id"], v.id.as_str());
    Product { id: p["id"].as_str().unwrap().into(), variant: p["variants"][0]["id"].as_str().unwrap().into() }
}

/// A digital product of the vendor with its file uploaded.
pub async fn digital_product(app: &TestApp, v: &Vendor, title: &str, sku: &str, price: i64) -> Product {
    let variant = json!({ "sku": sku, "price": yen(price), "fulfillment_type": "digital" });
    let p = app
        .post(
            "/admin/v1/products",
            &v.owner.token,
            json!({ "title": title, "status": "active", "variants": [variant] }),
        )
        .await
        .expect(201);
    let product =
        Product { id: p["id"].as_str().unwrap().into(), variant: p["variants"][0]["id"].as_str().unwrap().into() };
    crate::digital::upload_as(
        app,
        &v.owner.token,
        &product.id,
        &product.variant,
        b"%PDF-1.4 guide".to_vec(),
        "guide.pdf",
        None,
    )
    .await
    .expect(201);
    product
}

/// Places an order of these (variant, quantity) lines; answers the placed order's view.
pub async fn order(app: &TestApp, shop: &Shop, lines: &[(&str, i32)], email: &str, method: &str) -> Value {
    let cart = crate::checkout::cart_with(app, shop, lines).await;
    crate::checkout::checkout(
        app,
        shop,
        &cart,
        json!({ "email": email, "shipping_address": crate::checkout::address("東京都"), "payment_method": method }),
        None,
    )
    .await
    .expect(201)["order"]
        .clone()
}

/// The shipment of a vendor in an order view.
pub fn shipment_of(order: &Value, vendor: &Vendor) -> String {
    order["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["vendor_id"] == vendor.id.as_str())
        .unwrap_or_else(|| panic!("no shipment of {} in {order}", vendor.name))["id"]
        .as_str()
        .unwrap()
        .to_string()
}
