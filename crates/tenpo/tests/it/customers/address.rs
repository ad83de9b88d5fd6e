//! Japanese addresses: every prefecture form is accepted, bad fields are named.

use reqwest::Method;
use serde_json::{Value, json};

use super::{create, id};
use crate::support::TestApp;

fn address(prefecture: &str) -> Value {
    let postal_code = match crate::support::postal_code_in(prefecture) {
        "150-0001" => "１５０－０００１".to_string(), // full-width, as people type it
        other => other.to_string(),
    };
    json!({ "name": "山田 太郎", "name_kana": "やまだ たろう", "postal_code": postal_code,
            "prefecture": prefecture, "city": "渋谷区神宮前", "line1": "1-2-3", "line2": "ビル 4F",
            "phone": "090-1234-5678" })
}

#[tokio::test]
async fn every_prefecture_form_is_accepted_and_stored_canonically() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let customer = id(&create(&app, &shop, json!({ "email": "addr@example.jp" })).await);
    let path = format!("/admin/v1/customers/{customer}/addresses");
    for form in ["東京都", "東京", "Tokyo", "tokyo", "13", "１３"] {
        let saved = app.post(&path, &shop.owner_token, address(form)).await.expect(201);
        assert_eq!((&saved["prefecture"], &saved["prefecture_code"]), (&json!("東京都"), &json!(13)), "{form}");
        assert_eq!(saved["postal_code"], "150-0001");
        assert_eq!(saved["name_kana"], "ヤマダ タロウ");
        assert_eq!(saved["phone"], "+819012345678");
    }
    for (form, name, code) in
        [("01", "北海道", 1), ("北海道", "北海道", 1), ("Okinawa", "沖縄県", 47), ("大阪", "大阪府", 27)]
    {
        let saved = app.post(&path, &shop.owner_token, address(form)).await.expect(201);
        assert_eq!((&saved["prefecture"], &saved["prefecture_code"]), (&json!(name), &json!(code)), "{form}");
    }
    // postal code without a dash, too
    let mut plain = address("Kyoto");
    plain["postal_code"] = json!("6008216");
    assert_eq!(app.post(&path, &shop.owner_token, plain).await.expect(201)["postal_code"], "600-8216");
}

#[tokio::test]
async fn bad_addresses_are_refused_naming_each_field() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let customer = id(&create(&app, &shop, json!({ "email": "addr@example.jp" })).await);
    let path = format!("/admin/v1/customers/{customer}/addresses");
    let fields = |body: &Value| -> Vec<(String, String)> {
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap().to_string(), e["code"].as_str().unwrap().to_string()))
            .collect()
    };
    for (field, value, code) in [
        ("prefecture", json!("Edo"), "invalid"),
        ("prefecture", json!("48"), "invalid"),
        ("postal_code", json!("123456"), "invalid"),
        ("postal_code", json!("1234-567"), "invalid"),
        ("city", json!(""), "required"),
        ("city", json!("　"), "required"),
        ("line1", json!(" "), "required"),
        ("phone", json!("12"), "invalid"),
    ] {
        let mut body = address("東京都");
        body[field] = value.clone();
        let problem = app.post(&path, &shop.owner_token, body).await.expect_problem(422, "validation_failed");
        assert_eq!(fields(&problem), [(field.to_string(), code.to_string())], "{field} = {value}");
    }
    // all at once: each one named
    let mut body = address("Edo");
    body["postal_code"] = json!("123456");
    body["city"] = json!("");
    let problem = app.post(&path, &shop.owner_token, body).await.expect_problem(422, "validation_failed");
    let mut named: Vec<String> = fields(&problem).into_iter().map(|(f, _)| f).collect();
    named.sort();
    assert_eq!(named, ["city", "postal_code", "prefecture"]);
    assert_eq!(app.count("SELECT count(*) FROM customer_addresses").await, 0);
}

#[tokio::test]
async fn addresses_can_be_listed_changed_and_deleted_with_one_default_per_type() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let customer = id(&create(&app, &shop, json!({ "email": "addr@example.jp" })).await);
    let path = format!("/admin/v1/customers/{customer}/addresses");
    let first = app.post(&path, &shop.owner_token, address("東京")).await.expect(201);
    assert_eq!(first["is_default"], true, "the first address of a type is the default");
    let mut second = address("Osaka");
    second["is_default"] = json!(true);
    let second = app.post(&path, &shop.owner_token, second).await.expect(201);
    let list = app.get(&path, &shop.owner_token).await.expect(200);
    let defaults: Vec<&Value> = list.as_array().unwrap().iter().filter(|a| a["is_default"] == true).collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["id"], second["id"]);

    let one = format!("{path}/{}", first["id"].as_str().unwrap());
    let changed = app
        .patch(
            &one,
            &shop.owner_token,
            json!({ "prefecture": "27", "postal_code": "5300001", "line2": "", "type": "billing" }),
        )
        .await
        .expect(200);
    assert_eq!(
        (&changed["prefecture"], &changed["line2"], &changed["type"]),
        (&json!("大阪府"), &Value::Null, &json!("billing"))
    );
    app.patch(&one, &shop.owner_token, json!({ "postal_code": "12345" }))
        .await
        .expect_problem(422, "validation_failed");
    app.delete(&one, &shop.owner_token).await.expect(204);
    app.delete(&one, &shop.owner_token).await.expect_problem(404, "address_not_found");
    assert_eq!(app.get(&path, &shop.owner_token).await.expect(200).as_array().unwrap().len(), 1);
    // staff may look but not change
    let (_, staff) = app.member(&shop, "staff").await;
    app.get(&path, &staff).await.expect(200);
    app.post(&path, &staff, address("東京")).await.expect_problem(403, "permission_denied");
    app.call(Method::DELETE, &format!("{path}/{}", second["id"].as_str().unwrap()), Some(&staff), None)
        .await
        .expect_problem(403, "permission_denied");
}
