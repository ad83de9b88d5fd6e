//! The defects found when Tenpo was tested from outside (issue 12), each with the request that
//! showed it. They stay fixed.

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::checkout::{address, checkout, tea_shop};
use crate::inventory::{add, new_cart};
use crate::support::TestApp;

#[tokio::test]
async fn nul_in_a_path_query_or_header_is_a_400_never_a_500() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let t = shop.owner_token.as_str();
    // the storefront answers without authentication: the store handle is looked up raw
    let a = app.call(Method::GET, "/store/v1/stores/x%00/products", None, None).await;
    assert_eq!(a.expect_problem(400, "invalid_path")["detail"], "the path must not contain the NUL character (%00)");
    app.call(Method::GET, &format!("/store/v1/stores/{}/products/mug%00", shop.handle), None, None)
        .await
        .expect_problem(400, "invalid_path");
    app.get("/admin/v1/products?q=a%00b", t).await.expect_problem(400, "invalid_query");
    app.get("/admin/v1/orders/export?email=a%00b", t).await.expect_problem(400, "invalid_query");
    app.get("/admin/v1/customers?q=%00", t).await.expect_problem(400, "invalid_query");
    app.call(Method::GET, &format!("/store/v1/stores/{}/search?q=%00", shop.handle), None, None)
        .await
        .expect_problem(400, "invalid_query");
    // still a 400 for a caller without a token: nothing reaches the database
    app.call(Method::GET, "/admin/v1/products?q=a%00b", None, None).await.expect_problem(400, "invalid_query");

    // a header cannot carry NUL at all: the HTTP layer refuses the request
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    conn.write_all(
        b"GET /store/v1/stores/x/products HTTP/1.1\r\nhost: x\r\nx-cart-secret: a\0b\r\nconnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    conn.read_to_end(&mut head).await.unwrap();
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
}

#[tokio::test]
async fn a_malformed_id_in_the_path_is_a_400_that_names_it() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let a = app.get("/admin/v1/products/not-a-uuid", &shop.owner_token).await;
    let body = a.expect_problem(400, "invalid_path");
    assert_eq!(body["detail"], r#"product_id must be a UUID (as returned by the API), not "not-a-uuid""#);
    let a = app.get("/admin/v1/products/0190a0a0-0000-7000-8000-000000000001/variants/nope", &shop.owner_token).await;
    assert!(a.expect_problem(400, "invalid_path")["detail"].as_str().unwrap().starts_with("variant_id must be a UUID"));
    // a well-formed id of nothing is still a 404
    app.get("/admin/v1/products/0190a0a0-0000-7000-8000-000000000001", &shop.owner_token).await.expect(404);
}

#[tokio::test]
async fn json_in_another_charset_is_a_415_and_changes_nothing() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let before = app.count("SELECT count(*) FROM products").await;
    let (body, _, _) = encoding_rs::SHIFT_JIS.encode(r#"{"title":"緑茶"}"#);
    for ct in [
        "application/json; charset=shift_jis",
        "application/json;charset=\"Shift_JIS\"",
        "application/json; charset=iso-8859-1",
    ] {
        let res = app
            .client
            .post(app.url("/admin/v1/products"))
            .bearer_auth(&shop.owner_token)
            .header("content-type", ct)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let a = TestApp::read(res).await;
        assert!(a.expect_problem(415, "unsupported_media_type")["detail"].as_str().unwrap().contains("UTF-8"), "{ct}");
    }
    assert_eq!(app.count("SELECT count(*) FROM products").await, before);
    // UTF-8, said or not, is read
    let res = app
        .client
        .post(app.url("/admin/v1/products"))
        .bearer_auth(&shop.owner_token)
        .header("content-type", "application/json; charset=UTF-8")
        .body(r#"{"title":"緑茶"}"#)
        .send()
        .await
        .unwrap();
    TestApp::read(res).await.expect(201);
}

#[tokio::test]
async fn a_kyoto_shopper_who_types_the_short_form_can_check_out() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let tea = tea_shop(&app).await;
    for (i, typed) in ["京都", "京都府", "Kyoto", "ｋｙｏｔｏ", "26"].into_iter().enumerate() {
        let cart = new_cart(&app, &tea.shop).await;
        add(&app, &tea.shop, &cart, &tea.tea, 1, None).await.expect(201);
        let body = json!({ "email": format!("kyoto{i}@example.jp"), "payment_method": "cod", "shipping_address": address(typed) });
        let placed = checkout(&app, &tea.shop, &cart, body, None).await.expect(201);
        assert_eq!(placed["order"]["shipping_address"]["prefecture"], "京都府", "{typed}");
    }
}

#[tokio::test]
async fn an_email_typed_in_full_width_is_the_same_customer() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let tea = tea_shop(&app).await;
    let mut customers = Vec::new();
    for typed in ["a@example.jp", "ａ@example.jp", "Ａ＠ＥＸＡＭＰＬＥ．ＪＰ"] {
        let cart = new_cart(&app, &tea.shop).await;
        add(&app, &tea.shop, &cart, &tea.tea, 1, None).await.expect(201);
        let body = json!({ "email": typed, "payment_method": "cod", "shipping_address": address("東京都") });
        let placed = checkout(&app, &tea.shop, &cart, body, None).await.expect(201);
        assert_eq!(placed["order"]["email"], "a@example.jp", "{typed}");
        customers.push(placed["order"]["customer_id"].clone());
    }
    assert!(customers.iter().all(|c| c == &customers[0] && !c.is_null()), "{customers:?}");
    assert_eq!(app.count("SELECT count(*) FROM customers").await, 1);
    // and staff find the orders however they type it
    let found = app.get("/admin/v1/orders?email=%EF%BD%81@example.jp", &tea.shop.owner_token).await.expect(200);
    assert_eq!(found["items"].as_array().unwrap().len(), 3);
}
