//! Builders for the shops tests need, through the operator API as an operator would.

use reqwest::Method;
use serde_json::{Value, json};

use super::TestApp;

pub const PASSWORD: &str = "correct-horse-battery";

/// A tenant with one store and its signed-in owner.
#[derive(Debug, Clone, Default)]
pub struct Shop {
    pub tenant_id: String,
    pub store_id: String,
    pub handle: String,
    pub owner_id: String,
    pub owner_email: String,
    pub owner_token: String,
    /// The store's `main` location.
    pub location_id: String,
}

impl TestApp {
    /// A new single-brand tenant with a store and an owner, signed in.
    pub async fn shop(&self) -> Shop {
        self.shop_of_kind("single_brand").await
    }

    pub async fn shop_of_kind(&self, kind: &str) -> Shop {
        let n = uuid::Uuid::new_v4().simple().to_string();
        let tenant = self
            .op(
                Method::POST,
                "/platform/v1/tenants",
                Some(json!({ "name": format!("Shop {}", &n[..6]), "type": kind })),
            )
            .await
            .expect(201);
        let tenant_id = tenant["id"].as_str().unwrap().to_string();
        self.store_in(&tenant_id, &format!("shop-{}", &n[..12])).await
    }

    /// Another store (with its own owner) in an existing tenant.
    pub async fn store_in(&self, tenant_id: &str, handle: &str) -> Shop {
        let store = self
            .op(
                Method::POST,
                &format!("/platform/v1/tenants/{tenant_id}/stores"),
                Some(json!({ "handle": handle, "name": "Test store" })),
            )
            .await
            .expect(201);
        let store_id = store["id"].as_str().unwrap().to_string();
        let email = format!("owner@{handle}.test");
        let owner = self
            .op(
                Method::POST,
                &format!("/platform/v1/tenants/{tenant_id}/stores/{store_id}/staff"),
                Some(json!({ "name": "Owner", "email": email, "password": PASSWORD, "role": "owner" })),
            )
            .await
            .expect(201);
        let token = self.login(handle, &email, PASSWORD).await;
        let locations = self.get("/admin/v1/locations", &token).await.expect(200);
        Shop {
            tenant_id: tenant_id.into(),
            store_id,
            handle: handle.into(),
            owner_id: owner["id"].as_str().unwrap().into(),
            owner_email: email,
            owner_token: token,
            location_id: locations[0]["id"].as_str().unwrap().into(),
        }
    }

    /// Gives the shop a complete bank account, so it offers bank transfer.
    pub async fn with_bank_account(&self, shop: &Shop) {
        self.patch("/admin/v1/store/checkout-settings", &shop.owner_token, json!({ "bank_account": bank_account() }))
            .await
            .expect(200);
    }

    /// Signs in; panics unless it works.
    pub async fn login(&self, store: &str, login: &str, password: &str) -> String {
        let body = self
            .call(
                Method::POST,
                "/admin/v1/auth/login",
                None,
                Some(json!({ "store": store, "login": login, "password": password })),
            )
            .await
            .expect(200);
        body["token"].as_str().unwrap().to_string()
    }

    /// Adds a staff member with a role to the shop (as its owner) and signs them in.
    pub async fn member(&self, shop: &Shop, role: &str) -> (Value, String) {
        let email = format!("{role}-{}@{}.test", &uuid::Uuid::new_v4().simple().to_string()[..6], shop.handle);
        let member = self
            .post("/admin/v1/staff", &shop.owner_token, json!({ "email": email, "password": PASSWORD, "role": role }))
            .await
            .expect(201);
        let token = self.login(&shop.handle, &email, PASSWORD).await;
        (member, token)
    }
}

/// A complete bank account (振込先).
pub fn bank_account() -> Value {
    json!({ "bank_name": "テスト銀行", "branch_name": "本店", "account_type": "futsu", "account_number": "1234567",
            "account_holder_kana": "テンポ" })
}

/// A complete set of commercial disclosures (特定商取引法に基づく表記), published.
pub fn disclosures(seller: &str) -> Value {
    json!({ "published": true, "disclosures": {
        "seller_name": seller, "responsible_person": "山田 太郎", "address": "〒150-0001 東京都渋谷区神宮前1-2-3",
        "phone": "03-1234-5678", "email": "shop@example.jp", "price_note": "各商品ページに税込価格で表示しています。",
        "extra_charges": "送料 全国一律800円（沖縄県1,500円）、代金引換手数料330円〜",
        "payment_methods": "銀行振込、代金引換", "payment_timing": "銀行振込: ご注文から7日以内、代金引換: お受け取り時",
        "delivery_timing": "ご入金確認後3営業日以内に発送します。",
        "returns_policy": "商品到着後8日以内にご連絡ください。お客様都合の返品送料はお客様負担です。",
        "offer_validity": "ご注文から7日以内にお振込みがない場合はキャンセルとなります。" } })
}
