//! Shoppers' accounts: sign up, verify with the code from the email (read from a real SMTP
//! server), sign in, shop, see the order history (a guest order with the verified email joins
//! it), sign out, reset the password; throttled like staff sign-in.

use reqwest::Method;
use serde_json::{Value, json};

use super::sibling;
use crate::checkout::{address, tea_shop};
use crate::inventory::add;
use crate::support::smtp::{Mail, Smtp};
use crate::support::{Answer, Shop, TestApp};

const EMAIL: &str = "hanako@example.jp";
const PASSWORD: &str = "matcha-and-sencha";

async fn call(
    app: &TestApp,
    shop: &Shop,
    method: Method,
    rest: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    app.call(method, &format!("/store/v1/stores/{}/account{rest}", shop.handle), token, body).await
}

/// The 6-digit code in a message.
pub(crate) fn code_in(mail: &Mail) -> String {
    let chars: Vec<char> = mail.body.chars().collect();
    chars
        .windows(6)
        .enumerate()
        .find(|(i, w)| {
            w.iter().all(char::is_ascii_digit)
                && !chars.get(i + 6).is_some_and(char::is_ascii_digit)
                && (*i == 0 || !chars[i - 1].is_ascii_digit())
        })
        .map(|(_, w)| w.iter().collect())
        .unwrap_or_else(|| panic!("no code in {}", mail.body))
}

async fn sign_in(app: &TestApp, shop: &Shop, email: &str, password: &str) -> Answer {
    call(app, shop, Method::POST, "/login", None, Some(json!({ "email": email, "password": password }))).await
}

/// A cart (opened with the token when given) holding one tea, checked out with `email`.
pub(crate) async fn buy(app: &TestApp, shop: &Shop, tea: &str, token: Option<&str>, email: &str) -> Value {
    let cart = app
        .call(Method::POST, &format!("/store/v1/stores/{}/carts", shop.handle), token, Some(json!({})))
        .await
        .expect(201);
    let cart = (cart["cart"]["id"].as_str().unwrap().to_string(), cart["secret"].as_str().unwrap().to_string());
    add(app, shop, &cart, tea, 1, None).await.expect(201);
    let body = json!({ "email": email, "shipping_address": address("東京都"), "payment_method": "cod" });
    crate::checkout::checkout(app, shop, &cart, body, None).await.expect(201)["order"].clone()
}

#[tokio::test]
async fn sign_up_verify_sign_in_and_see_every_order_of_the_verified_email() {
    let smtp = Smtp::start().await;
    let app = TestApp::spawn_with(|c, _| smtp.configure(c)).await;
    let tea = tea_shop(&app).await;
    let shop = &tea.shop;

    // a guest order before the account exists: the same email, so it joins once verified
    let before = buy(&app, shop, &tea.tea, None, EMAIL).await;

    let signed_up = call(
        &app,
        shop,
        Method::POST,
        "/signup",
        None,
        Some(json!({ "email": " Hanako@Example.JP ", "password": PASSWORD, "name": "山田 花子" })),
    )
    .await
    .expect(201);
    assert_eq!(signed_up["email"], EMAIL);
    // the guest order's confirmation, then the code
    let mails = smtp.wait_for(2).await;
    let verification =
        mails.iter().find(|m| m.to.contains(EMAIL) && m.subject.contains("確認コード")).expect("the verification mail");
    assert!(verification.subject.contains("確認コード"), "{}", verification.subject);
    let code = code_in(verification);
    // the code's mail is not kept once sent
    assert_eq!(
        app.count("SELECT count(*) FROM email_messages WHERE kind = 'account_verification' AND body_text = ''").await,
        1
    );

    // not before the email is proven
    sign_in(&app, shop, EMAIL, PASSWORD).await.expect_problem(403, "email_not_verified");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    call(&app, shop, Method::POST, "/verify", None, Some(json!({ "email": EMAIL, "code": wrong })))
        .await
        .expect_problem(422, "invalid_code");
    let verified = call(&app, shop, Method::POST, "/verify", None, Some(json!({ "email": EMAIL, "code": code })))
        .await
        .expect(200);
    assert!(verified["token"].as_str().unwrap().starts_with("tpc_"));
    // a code works once
    call(&app, shop, Method::POST, "/verify", None, Some(json!({ "email": EMAIL, "code": code })))
        .await
        .expect_problem(422, "invalid_code");

    let token = sign_in(&app, shop, EMAIL, PASSWORD).await.expect(200)["token"].as_str().unwrap().to_string();
    let me = call(&app, shop, Method::GET, "", Some(&token), None).await.expect(200);
    assert_eq!(
        (me["email"].as_str(), me["name"].as_str(), me["email_verified"].as_bool()),
        (Some(EMAIL), Some("山田 花子"), Some(true))
    );
    // one customer, through the identity map, with a verified signup identity
    assert_eq!(app.count("SELECT count(*) FROM customers").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM customer_identities WHERE identity_value = 'hanako@example.jp' AND verified")
            .await,
        1
    );

    // signed in: the cart is the account's; typed another email, the order is still theirs
    let signed_in_order = buy(&app, shop, &tea.tea, Some(&token), "another@example.jp").await;
    // a guest order with the verified email joins the history; one with another email does not
    let guest_order = buy(&app, shop, &tea.tea, None, EMAIL).await;
    buy(&app, shop, &tea.tea, None, "stranger@example.jp").await;
    let history = call(&app, shop, Method::GET, "/orders", Some(&token), None).await.expect(200);
    let numbers: Vec<i64> =
        history["items"].as_array().unwrap().iter().map(|o| o["number"].as_i64().unwrap()).collect();
    let n = |o: &Value| o["number"].as_i64().unwrap();
    assert_eq!(numbers, [n(&guest_order), n(&signed_in_order), n(&before)], "newest first");
    let id = history["items"][0]["id"].as_str().unwrap();
    let one = call(&app, shop, Method::GET, &format!("/orders/{id}"), Some(&token), None).await.expect(200);
    assert_eq!(one["number"], n(&guest_order));

    // saved addresses are the customer's
    let saved = call(&app, shop, Method::POST, "/addresses", Some(&token), Some(address("東京都"))).await.expect(201);
    assert_eq!(saved["postal_code"], "150-0001");
    let list = call(&app, shop, Method::GET, "/addresses", Some(&token), None).await.expect(200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let edited =
        call(&app, shop, Method::PATCH, "", Some(&token), Some(json!({ "phone": "090-1111-2222" }))).await.expect(200);
    assert_eq!(edited["phone"], "+819011112222");

    // the account is the tenant's: it signs in at the sibling store, whose history is its own
    let other = sibling(&app, shop).await;
    let there = sign_in(&app, &other, EMAIL, PASSWORD).await.expect(200)["token"].as_str().unwrap().to_string();
    let empty = call(&app, &other, Method::GET, "/orders", Some(&there), None).await.expect(200);
    assert_eq!(empty["items"], json!([]));
    // a token is its store's
    call(&app, &other, Method::GET, "", Some(&token), None).await.expect_problem(401, "invalid_token");

    // signing out ends the token
    call(&app, shop, Method::POST, "/logout", Some(&token), None).await.expect(204);
    call(&app, shop, Method::GET, "", Some(&token), None).await.expect_problem(401, "invalid_token");
    // signing up again with a verified email is refused
    call(&app, shop, Method::POST, "/signup", None, Some(json!({ "email": EMAIL, "password": "another-password" })))
        .await
        .expect_problem(409, "account_exists");
}

#[tokio::test]
async fn a_password_reset_by_code_ends_every_session() {
    let smtp = Smtp::start().await;
    let app = TestApp::spawn_with(|c, _| smtp.configure(c)).await;
    let shop = app.shop().await;
    call(&app, &shop, Method::POST, "/signup", None, Some(json!({ "email": EMAIL, "password": PASSWORD })))
        .await
        .expect(201);
    let code = code_in(&smtp.wait_for(1).await[0]);
    let token = call(&app, &shop, Method::POST, "/verify", None, Some(json!({ "email": EMAIL, "code": code })))
        .await
        .expect(200)["token"]
        .as_str()
        .unwrap()
        .to_string();

    // unknown emails answer the same and get nothing
    call(&app, &shop, Method::POST, "/password-reset", None, Some(json!({ "email": "nobody@example.jp" })))
        .await
        .expect(202);
    call(&app, &shop, Method::POST, "/password-reset", None, Some(json!({ "email": EMAIL }))).await.expect(202);
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails.len(), 2, "nothing went to the unknown email");
    assert!(mails[1].subject.contains("パスワード再設定"), "{}", mails[1].subject);
    let reset = code_in(&mails[1]);
    call(
        &app,
        &shop,
        Method::POST,
        "/password-reset/confirm",
        None,
        Some(json!({ "email": EMAIL, "code": reset, "password": "short" })),
    )
    .await
    .expect_problem(422, "validation_failed");
    call(
        &app,
        &shop,
        Method::POST,
        "/password-reset/confirm",
        None,
        Some(json!({ "email": EMAIL, "code": reset, "password": "a-new-long-password" })),
    )
    .await
    .expect(204);
    call(&app, &shop, Method::GET, "", Some(&token), None).await.expect_problem(401, "invalid_token");
    sign_in(&app, &shop, EMAIL, PASSWORD).await.expect_problem(401, "invalid_credentials");
    sign_in(&app, &shop, EMAIL, "a-new-long-password").await.expect(200);
}

#[tokio::test]
async fn shopper_sign_in_is_throttled_like_staff_sign_in() {
    let smtp = Smtp::start().await;
    let app = TestApp::spawn_with(|c, _| {
        smtp.configure(c);
        c.auth.max_failures_per_account = 3;
    })
    .await;
    let shop = app.shop().await;
    call(&app, &shop, Method::POST, "/signup", None, Some(json!({ "email": EMAIL, "password": PASSWORD })))
        .await
        .expect(201);
    let code = code_in(&smtp.wait_for(1).await[0]);
    call(&app, &shop, Method::POST, "/verify", None, Some(json!({ "email": EMAIL, "code": code }))).await.expect(200);
    for _ in 0..3 {
        sign_in(&app, &shop, EMAIL, "wrong-password!").await.expect_problem(401, "invalid_credentials");
    }
    let locked = sign_in(&app, &shop, EMAIL, PASSWORD).await;
    assert!(locked.headers.get("retry-after").is_some());
    locked.expect_problem(429, "too_many_attempts");
    // an unknown email fails the same way as a wrong password
    sign_in(&app, &shop, "nobody@example.jp", PASSWORD).await.expect_problem(401, "invalid_credentials");
}
