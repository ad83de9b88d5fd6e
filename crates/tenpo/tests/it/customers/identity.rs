//! One canonical customer per person per tenant, whatever form their email or phone was typed
//! in and whichever store saw them.

use customers::identity::{self, ResolveInput, Source};
use kernel::{StoreId, TenantId};
use serde_json::json;

use super::{create, id, sibling, uuid};
use crate::support::TestApp;

#[tokio::test]
async fn the_same_email_typed_three_ways_at_two_stores_is_one_customer_with_two_profiles() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let s1 = app.shop().await;
    let s2 = sibling(&app, &s1).await;

    let first = create(&app, &s1, json!({ "email": "taro@example.com", "name": "山田 太郎" })).await;
    // the same address, shouting, in full width, at the second store: a profile there, same customer
    let second =
        create(&app, &s2, json!({ "email": "ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＣＯＭ", "name_kana": "やまだ たろう" })).await;
    assert_eq!(id(&first), id(&second));
    // and typed a third way at the first store again: it already has this customer
    let again = app
        .post("/admin/v1/customers", &s1.owner_token, json!({ "email": "  Taro@Example.COM " }))
        .await
        .expect_problem(409, "customer_exists");
    assert!(again["detail"].as_str().unwrap().contains(&id(&first)), "{again}");

    let customer = id(&first);
    assert_eq!(app.count(&format!("SELECT count(*) FROM customers WHERE tenant_id = '{}'", s1.tenant_id)).await, 1);
    let profiles: Vec<(uuid::Uuid, String, String, Option<String>)> = sqlx::query_as(
        "SELECT store_id, name, name_kana, email FROM customer_profiles WHERE customer_id = $1 ORDER BY name",
    )
    .bind(uuid(&customer))
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(
        profiles,
        [
            (uuid(&s2.store_id), String::new(), "ヤマダ タロウ".to_string(), Some("taro@example.com".into())),
            (uuid(&s1.store_id), "山田 太郎".to_string(), String::new(), Some("taro@example.com".into())),
        ]
    );
    let identities: Vec<(String, String, bool, String)> = sqlx::query_as(
        "SELECT identity_type, identity_value, verified, source FROM customer_identities WHERE customer_id = $1",
    )
    .bind(uuid(&customer))
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(identities, [("email".into(), "taro@example.com".into(), false, "staff".into())]);
    assert_eq!(second["identities"][0]["value"], "taro@example.com");
}

#[tokio::test]
async fn phone_forms_all_normalise_to_one_identity() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let s1 = app.shop().await;
    let s2 = sibling(&app, &s1).await;
    let forms = [
        "090-1234-5678",
        "09012345678",
        "+81 90 1234 5678",
        "+81-90-1234-5678",
        "０９０－１２３４－５６７８",
        "(090) 1234-5678",
    ];
    let first = create(&app, &s1, json!({ "phone": forms[0] })).await;
    let customer = id(&first);
    assert_eq!(first["profile"]["phone"], "+819012345678");
    // every other form, at the second store and through resolution, finds the same customer
    let second = create(&app, &s2, json!({ "phone": forms[1] })).await;
    assert_eq!(id(&second), customer);
    let tenant: TenantId = s1.tenant_id.parse().unwrap();
    for form in &forms[2..] {
        let mut tx = app.db.begin(tenant).await.unwrap();
        let input = ResolveInput { phone: Some(form.to_string()), ..Default::default() };
        let r =
            identity::resolve(&mut tx, s2.store_id.parse::<StoreId>().unwrap(), input, Source::Checkout).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(r.customer_id.to_string(), customer, "{form}");
        assert!(!r.created_customer && !r.created_profile, "{form}");
    }
    let identities: Vec<(String, String)> =
        sqlx::query_as("SELECT identity_type, identity_value FROM customer_identities WHERE tenant_id = $1")
            .bind(uuid(&s1.tenant_id))
            .fetch_all(&app.owner)
            .await
            .unwrap();
    assert_eq!(identities, [("phone".to_string(), "+819012345678".to_string())]);
    // searching by any form finds them too
    for q in ["09012345678", "+81 90 1234 5678", "1234-5678"] {
        let page = app.get(&format!("/admin/v1/customers?q={}", urlencode(q)), &s1.owner_token).await.expect(200);
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{q}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn concurrent_resolutions_of_the_same_new_email_create_one_customer() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let s1 = app.shop().await;
    let s2 = sibling(&app, &s1).await;
    let tenant: TenantId = s1.tenant_id.parse().unwrap();
    let stores: [StoreId; 2] = [s1.store_id.parse().unwrap(), s2.store_id.parse().unwrap()];
    let mut tasks = Vec::new();
    for i in 0..16 {
        let db = app.db.clone();
        let store = stores[i % 2];
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin(tenant).await.unwrap();
            let email = if i % 3 == 0 { "Hanako@Example.jp" } else { "hanako@example.jp" };
            let phone = (i % 4 == 0).then(|| "080-9999-0000".to_string());
            let input = ResolveInput { email: Some(email.into()), phone, verified: i == 5, ..Default::default() };
            let r = identity::resolve(&mut tx, store, input, Source::Signup).await.unwrap();
            tx.commit().await.unwrap();
            r
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let customer = results[0].customer_id;
    assert!(results.iter().all(|r| r.customer_id == customer));
    assert_eq!(results.iter().filter(|r| r.created_customer).count(), 1);
    assert_eq!(results.iter().filter(|r| r.created_profile).count(), 2, "one profile per store");
    assert_eq!(app.count(&format!("SELECT count(*) FROM customers WHERE tenant_id = '{tenant}'")).await, 1);
    let identities: Vec<(String, String, bool, String)> = sqlx::query_as(
        "SELECT identity_type, identity_value, verified, source FROM customer_identities
          WHERE tenant_id = $1 ORDER BY identity_type",
    )
    .bind(tenant)
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(
        identities,
        [
            ("email".into(), "hanako@example.jp".into(), true, "signup".into()),
            ("phone".into(), "+818099990000".into(), false, "signup".into()),
        ]
    );
}

#[tokio::test]
async fn an_email_and_a_phone_of_two_different_customers_resolve_by_the_email() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let by_email = create(&app, &shop, json!({ "email": "a@example.jp", "name": "A" })).await;
    let by_phone = create(&app, &shop, json!({ "phone": "03-1111-2222", "name": "B" })).await;
    let tenant: TenantId = shop.tenant_id.parse().unwrap();
    let mut tx = app.db.begin(tenant).await.unwrap();
    let input = ResolveInput {
        email: Some("a@example.jp".into()),
        phone: Some("0311112222".into()),
        name: Some("typed at checkout".into()),
        ..Default::default()
    };
    let r = identity::resolve(&mut tx, shop.store_id.parse().unwrap(), input, Source::Checkout).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(r.customer_id.to_string(), id(&by_email));
    // the phone stays with its customer, and a filled profile field is never overwritten
    let owner: uuid::Uuid =
        sqlx::query_scalar("SELECT customer_id FROM customer_identities WHERE identity_value = '+81311112222'")
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert_eq!(owner.to_string(), id(&by_phone));
    let d = super::detail(&app, &shop, &id(&by_email)).await;
    assert_eq!(d["profile"]["name"], "A");
}
