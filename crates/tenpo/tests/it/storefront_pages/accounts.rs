//! Shoppers' account pages: in a real headless Chromium a shopper signs up at checkout with
//! the code from the real SMTP sink, saves an address (the postal code filling it), checks out
//! signed in with it and finds the order in the history; a wrong password shows the API's
//! refusal. Over HTTP: one shopper's pages never show another's addresses or orders, bad
//! input changes nothing, the session cookie is HttpOnly and SameSite=Lax.

use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::json;

use super::browse_and_buy::add;
use super::{TeaHouse, orders, tea_house};
use crate::customers::account::{buy, code_in};
use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::smtp::Smtp;

const EMAIL: &str = "kaori@example.jp";
const PASSWORD: &str = "gyokuro-and-hojicha";

#[tokio::test]
async fn a_shopper_signs_up_at_checkout_saves_an_address_buys_with_it_and_sees_the_order() {
    let smtp = Smtp::start().await;
    let app = TestApp::spawn_with(|c, _| smtp.configure(c)).await;
    let TeaHouse { shop, .. } = tea_house(&app).await;
    let base = format!("/shop/{}", shop.handle);
    let mut b = Browser::start(&app.base).await;

    // a guest at checkout is offered to sign in, make an account, or go on as a guest
    add(&mut b, &base, "sencha", "1").await;
    b.click("#to-checkout").await;
    assert_eq!(b.count("#sign-in-or-guest").await, 1);
    assert_eq!(b.click("#checkout-sign-in").await, 200);
    assert_eq!(b.text("h1").await, "ログイン");
    b.screenshots("storefront-account-sign-in").await;

    // sign up: a short password is refused at its field with the API's message
    b.click("#to-sign-up").await;
    b.fill("#email", EMAIL).await;
    b.fill("#password", "short").await;
    b.fill("#name", "佐藤 香織").await;
    b.fill("#name_kana", "サトウ カオリ").await;
    assert_eq!(b.click("#sign-up button[type=submit]").await, 422);
    assert!(b.text("[data-field=password]").await.contains("at least 10"), "{}", b.text("main").await);
    b.fill("#password", PASSWORD).await;
    assert_eq!(b.click("#sign-up button[type=submit]").await, 200);
    assert_eq!(b.text("h1").await, "メールアドレスの確認");
    assert_eq!(b.value("#email").await, EMAIL);
    b.screenshots("storefront-account-verify").await;
    // the code from the mail; a wrong one first
    let code = code_in(&smtp.wait_for(1).await[0]);
    b.fill("#code", if code == "000000" { "111111" } else { "000000" }).await;
    assert_eq!(b.click("#verify button[type=submit]").await, 422);
    assert_eq!(b.attr(".problem", "data-code").await.as_deref(), Some("invalid_code"));
    b.fill("#code", &code).await;
    assert_eq!(b.click("#verify button[type=submit]").await, 200);

    // back at checkout, signed in: the email is the account's
    assert!(b.url().await.ends_with(&format!("{base}/checkout")), "{}", b.url().await);
    assert_eq!(b.text("#me-email").await, EMAIL);
    assert_eq!(b.value("#email").await, EMAIL);
    let cookies = b.cookies().await;
    let session =
        cookies.as_array().unwrap().iter().find(|c| c["name"] == "tenpo_shopper").expect("the session cookie");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");

    // a saved address, the postal code filling prefecture and city
    assert_eq!(b.goto(&format!("{base}/account/addresses")).await, 200);
    assert_eq!(b.count("#no-addresses").await, 1);
    b.fill("#name", "佐藤 香織").await;
    b.fill("#name_kana", "サトウ カオリ").await;
    b.fill("#postal_code", "150-0001").await;
    b.eval("document.querySelector('[data-postal]').dispatchEvent(new Event('change'))").await;
    let started = Instant::now();
    while b.value("#prefecture").await != "東京都" {
        assert!(started.elapsed() < Duration::from_secs(10), "the postal code did not fill the prefecture");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.fill("#line1", "4-5-6").await;
    b.fill("#phone", "not a phone").await;
    assert_eq!(b.click("#add-address button[type=submit]").await, 422);
    assert!(!b.text("[data-field=phone]").await.is_empty(), "the phone's refusal is at the field");
    assert_eq!(b.count("li[data-address]").await, 0, "a refused address is not saved");
    b.fill("#phone", "080-1111-2222").await;
    assert_eq!(b.click("#add-address button[type=submit]").await, 200);
    assert_eq!(b.count("li[data-address]").await, 1);
    assert!(b.text("li[data-address]").await.contains("東京都渋谷区"), "{}", b.text("li[data-address]").await);
    b.screenshots("storefront-account-addresses").await;
    // edit it
    b.click("li[data-address] a.edit").await;
    assert_eq!(b.value("#phone").await, "08011112222");
    b.fill("#line2", "茶房ビル 2F").await;
    assert_eq!(b.click("#edit-address button[type=submit]").await, 200);
    assert!(b.text("li[data-address]").await.contains("茶房ビル 2F"));

    // the profile: name, kana, phone
    assert_eq!(b.goto(&format!("{base}/account")).await, 200);
    assert_eq!(b.text("#account-email").await, EMAIL);
    assert_eq!(b.value("#name").await, "佐藤 香織");
    b.fill("#phone", "03-1234-5678").await;
    assert_eq!(b.click("#profile button[type=submit]").await, 200);
    assert_eq!(b.value("#phone").await, "0312345678");
    b.screenshots("storefront-account-profile").await;

    // checkout: the saved address fills the form; the order joins the account
    b.goto(&format!("{base}/checkout")).await;
    assert_eq!(b.count("#signed-in .chosen").await, 1, "the default address is the one chosen");
    assert_eq!(b.value("#shipping_address-prefecture").await, "東京都");
    assert_eq!(b.value("#shipping_address-line1").await, "4-5-6");
    b.check("input[name=payment_method][value=bank_transfer]").await;
    b.screenshots("storefront-account-checkout").await;
    assert_eq!(b.click("form.checkout button[type=submit]").await, 200);
    assert_eq!(b.click("#place").await, 200);
    assert!(b.text("h1").await.starts_with("ご注文 #"));
    let placed = orders(&app, &shop).await;
    assert_eq!(placed.len(), 1);
    let number = placed[0]["number"].as_i64().unwrap().to_string();
    let detail = app
        .get(&format!("/admin/v1/orders/{}", placed[0]["id"].as_str().unwrap()), &shop.owner_token)
        .await
        .expect(200);
    assert_eq!(detail["shipping_address"]["line2"], "茶房ビル 2F");
    assert_eq!(detail["email"], EMAIL);

    // the history, and the order from it
    assert_eq!(b.goto(&format!("{base}/account/orders")).await, 200);
    assert_eq!(b.count("tr[data-order]").await, 1);
    assert!(b.text("tr[data-order]").await.contains(&number));
    b.screenshots("storefront-account-orders").await;
    assert_eq!(b.click("tr[data-order] a").await, 200);
    assert_eq!(b.text("h1").await, format!("ご注文 #{number}"));
    assert_eq!(b.attr(".status", "data-status").await.as_deref(), Some("pending_payment"));
    b.screenshots("storefront-account-order").await;

    // sign out: the account pages lead to the sign-in
    assert_eq!(b.click("#sign-out").await, 200);
    assert!(b.text("main").await.contains("ログアウトしました"));
    b.goto(&format!("{base}/account/orders")).await;
    assert!(b.url().await.ends_with("/account/signin"), "{}", b.url().await);

    // a wrong password shows the refusal; the right one signs in
    b.fill("#email", EMAIL).await;
    b.fill("#password", "not-the-password").await;
    assert_eq!(b.click("#sign-in button[type=submit]").await, 401);
    assert_eq!(b.attr(".problem", "data-code").await.as_deref(), Some("invalid_credentials"));
    assert!(b.text("main").await.contains("メールアドレスまたはパスワードが正しくありません"));
    assert_eq!(b.value("#email").await, EMAIL, "the email typed stays");
    b.screenshots("storefront-account-sign-in-refused").await;
    b.fill("#password", PASSWORD).await;
    assert_eq!(b.click("#sign-in button[type=submit]").await, 200);
    assert_eq!(b.text("h1").await, "会員情報");
    b.close().await;
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Signs up and verifies through the API; answers the token (what the page cookie holds).
async fn account(app: &TestApp, smtp: &Smtp, handle: &str, email: &str) -> String {
    let at = |rest: &str| format!("/store/v1/stores/{handle}/account{rest}");
    app.call(reqwest::Method::POST, &at("/signup"), None, Some(json!({ "email": email, "password": PASSWORD })))
        .await
        .expect(201);
    let started = Instant::now();
    let mail = loop {
        if let Some(m) = smtp.to(email).into_iter().next() {
            break m;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no code mailed to {email}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let verified = app
        .call(reqwest::Method::POST, &at("/verify"), None, Some(json!({ "email": email, "code": code_in(&mail) })))
        .await
        .expect(200);
    verified["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn one_shoppers_account_pages_never_show_anothers_and_bad_input_changes_nothing() {
    let smtp = Smtp::start().await;
    let app = TestApp::spawn_with(|c, _| smtp.configure(c)).await;
    let TeaHouse { shop, tea, .. } = tea_house(&app).await;
    let base = app.url(&format!("/shop/{}", shop.handle));
    let c = client();

    // shopper A: an address and an order, through the API
    let a = account(&app, &smtp, &shop.handle, "a@example.jp").await;
    let saved = app
        .post(
            &format!("/store/v1/stores/{}/account/addresses", shop.handle),
            &a,
            json!({ "name": "青木 一郎", "postal_code": "150-0001", "prefecture": "東京都", "city": "渋谷区", "line1": "9-9-9" }),
        )
        .await
        .expect(201);
    let address = saved["id"].as_str().unwrap().to_string();
    let order = buy(&app, &shop, &tea, Some(&a), "a@example.jp").await;
    let order_id = order["id"].as_str().unwrap().to_string();
    let a_cookie = format!("tenpo_shopper={a}");
    let page = |path: &str, cookie: &str| {
        let req = c.get(format!("{base}{path}")).header(COOKIE, cookie.to_string());
        async move { req.send().await.unwrap() }
    };
    // A sees them
    let mine = page("/account/addresses", &a_cookie).await;
    assert_eq!(mine.status(), 200);
    assert!(mine.text().await.unwrap().contains(&address));
    assert_eq!(page(&format!("/account/orders/{order_id}"), &a_cookie).await.status(), 200);

    // shopper B, signed in through the page: the cookie is HttpOnly, SameSite=Lax, the store's
    account(&app, &smtp, &shop.handle, "b@example.jp").await;
    let signed = c
        .post(format!("{base}/account/signin"))
        .form(&[("email", "b@example.jp"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    assert!(signed.headers()[LOCATION].to_str().unwrap().ends_with("/account"));
    let set = signed.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(set.starts_with("tenpo_shopper=tpc_") && set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    assert!(set.contains(&format!("Path=/shop/{}", shop.handle)), "{set}");
    let b_cookie = set.split(';').next().unwrap().to_string();

    // B's pages show nothing of A's; A's ids are not found
    let list = page("/account/addresses", &b_cookie).await.text().await.unwrap();
    assert!(!list.contains(&address) && !list.contains("青木"), "B sees A's address");
    let history = page("/account/orders", &b_cookie).await.text().await.unwrap();
    assert!(!history.contains(&order_id), "B sees A's order");
    assert!(history.contains("no-orders"));
    assert_eq!(page(&format!("/account/orders/{order_id}"), &b_cookie).await.status(), 404);
    assert_eq!(page(&format!("/account/addresses/{address}"), &b_cookie).await.status(), 404);
    let edit = c
        .post(format!("{base}/account/addresses/{address}"))
        .header(COOKIE, &b_cookie)
        .form(&[
            ("name", "乗っ取り"),
            ("postal_code", "100-0001"),
            ("prefecture", "東京都"),
            ("city", "千代田区"),
            ("line1", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 404);
    let delete =
        c.post(format!("{base}/account/addresses/{address}/delete")).header(COOKIE, &b_cookie).send().await.unwrap();
    assert_eq!(delete.status(), 404);
    let still = app.get(&format!("/store/v1/stores/{}/account/addresses", shop.handle), &a).await.expect(200);
    assert_eq!(still.as_array().unwrap().len(), 1);
    assert_eq!(still[0]["name"], "青木 一郎", "A's address is unchanged");

    // without a session the pages lead to the sign-in; a foreign form is refused
    let anon = page("/account", "").await;
    assert_eq!(anon.status(), 303);
    assert!(anon.headers()[LOCATION].to_str().unwrap().ends_with("/account/signin"));
    let foreign = c
        .post(format!("{base}/account/signin"))
        .header(ORIGIN, "https://evil.example")
        .form(&[("email", "b@example.jp"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(foreign.headers().get(SET_COOKIE).is_none());

    // bad input: a profile phone that is none is 422 at its field and changes nothing
    let bad = c
        .post(format!("{base}/account"))
        .header(COOKIE, &b_cookie)
        .form(&[("name", "別の名前"), ("name_kana", ""), ("phone", "abc")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("data-field=\"phone\""));
    let me = page("/account", &b_cookie).await.text().await.unwrap();
    assert!(!me.contains("別の名前"), "a refused profile is not saved");
    // a sign-up whose password is too short makes no account
    let short = c
        .post(format!("{base}/account/signup"))
        .form(&[("email", "c@example.jp"), ("password", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), 422);
    assert!(short.text().await.unwrap().contains("data-field=\"password\""));
    let none = c
        .post(format!("{base}/account/verify"))
        .form(&[("email", "c@example.jp"), ("code", "123456")])
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 422, "no account, so no code is right");
}

#[tokio::test]
async fn the_account_order_page_shows_the_downloads_left_and_the_receipt() {
    let smtp = Smtp::start().await;
    let app = TestApp::spawn_with(|c, _| smtp.configure(c)).await;
    let TeaHouse { shop, guide, .. } = tea_house(&app).await;
    let product = crate::digital::product_of(&app, &guide).await;
    crate::digital::upload(&app, &shop, &product, &guide, b"guide", "gyokuro.pdf", Some("application/pdf"))
        .await
        .expect(201);
    crate::digital::limit_product(&app, &shop, &product, 2).await;
    // the shopper buys the guide signed in (through the API), staff confirm the transfer
    let token = account(&app, &smtp, &shop.handle, EMAIL).await;
    let cart = app
        .call(reqwest::Method::POST, &format!("/store/v1/stores/{}/carts", shop.handle), Some(&token), Some(json!({})))
        .await
        .expect(201);
    let cart = (cart["cart"]["id"].as_str().unwrap().to_string(), cart["secret"].as_str().unwrap().to_string());
    crate::inventory::add(&app, &shop, &cart, &guide, 1, None).await.expect(201);
    let body = json!({ "email": EMAIL, "payment_method": "bank_transfer" });
    let order = crate::checkout::checkout(&app, &shop, &cart, body, None).await.expect(201)["order"].clone();
    let order_id = order["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/admin/v1/orders/{order_id}/payments/confirm"),
        &shop.owner_token,
        json!({ "received": order["total"] }),
    )
    .await
    .expect(200);

    // signed in through the page, the order from the history: its download with what is left
    let base = format!("/shop/{}", shop.handle);
    let mut b = Browser::start(&app.base).await;
    assert_eq!(b.goto(&format!("{base}/account/signin")).await, 200);
    b.fill("#email", EMAIL).await;
    b.fill("#password", PASSWORD).await;
    assert_eq!(b.click("#sign-in button[type=submit]").await, 200);
    let started = Instant::now();
    loop {
        assert_eq!(b.goto(&format!("{base}/account/orders")).await, 200);
        b.click(&format!("tr[data-order='{order_id}'] a")).await;
        if b.count("li[data-delivery]").await == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the delivery never appeared");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(b.attr(".remaining", "data-remaining").await.as_deref(), Some("2"));
    assert!(b.text("li[data-delivery]").await.contains("gyokuro.pdf"));
    assert_eq!(b.count("form.download input[name=token]").await, 0, "the session, not a token, opens it");
    b.screenshots("storefront-account-order-downloads").await;
    let action = b.attr("form.download", "action").await.unwrap();
    assert!(action.starts_with(&format!("{base}/account/orders/{order_id}/downloads/")), "{action}");

    // the receipt, as the token link prints it
    assert_eq!(b.click("#receipt").await, 200);
    assert!(b.text("body").await.contains("領収書"));

    // downloads through the session, twice, then the limit; another shopper's session gets nothing
    let cookie = format!("tenpo_shopper={token}");
    let c = client();
    let other = account(&app, &smtp, &shop.handle, "other@example.jp").await;
    let theirs = c.post(app.url(&action)).header(COOKIE, format!("tenpo_shopper={other}")).send().await.unwrap();
    assert_eq!(theirs.status(), 404);
    for _ in 0..2 {
        let r = c.post(app.url(&action)).header(COOKIE, &cookie).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let file = r.headers()[LOCATION].to_str().unwrap().to_string();
        let got = c.get(if file.starts_with("http") { file } else { app.url(&file) }).send().await.unwrap();
        assert_eq!(got.bytes().await.unwrap().as_ref(), b"guide");
    }
    let r = c.post(app.url(&action)).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let back = r.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(back.ends_with(&format!("/account/orders/{order_id}?refused=download_limit_reached")), "{back}");
    b.goto(&back).await;
    assert!(b.text("#downloads .problem").await.contains("上限"));
    assert_eq!(b.attr(".remaining", "data-remaining").await.as_deref(), Some("0"));
    assert_eq!(b.count("form.download").await, 0);
    b.close().await;
}

#[tokio::test]
async fn a_throttled_sign_in_page_says_how_long_and_sends_retry_after() {
    let smtp = Smtp::start().await;
    let app = TestApp::spawn_with(|c, _| {
        smtp.configure(c);
        c.auth.max_failures_per_account = 3;
    })
    .await;
    let shop = app.shop().await;
    account(&app, &smtp, &shop.handle, EMAIL).await;
    let url = app.url(&format!("/shop/{}/account/signin", shop.handle));
    let c = client();
    for _ in 0..3 {
        let r = c.post(&url).form(&[("email", EMAIL), ("password", "wrong-password!")]).send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().get("retry-after").is_none());
    }
    // locked out, even with the right password: 429, the wait in the header and on the page
    let r = c.post(&url).form(&[("email", EMAIL), ("password", PASSWORD)]).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let secs: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(secs >= 1);
    assert!(r.headers().get(SET_COOKIE).is_none(), "no session while locked out");
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"throttled\""), "{page}");
    assert!(page.contains("試行回数が多すぎます") && page.contains("後にもう一度お試しください"), "{page}");
    assert!(page.contains("data-code=\"too_many_attempts\""), "{page}");
}
