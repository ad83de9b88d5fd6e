//! A store's own domain, its branding and privacy page, the live cart count and the cookies'
//! Secure flag (docs/STOREFRONT.md, "The store's domain", "Branding"): over plain HTTP with a
//! Host header, and in a real headless Chromium for what a shopper sees.

use std::time::Duration;

use reqwest::header::{COOKIE, ETAG, HOST, IF_NONE_MATCH, LOCATION, SET_COOKIE};
use serde_json::json;

use super::{TeaHouse, tea_house};
use crate::support::TestApp;
use crate::support::browser::Browser;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// GETs `path` until `ok` holds of the body (a change reaches the read cache when its
/// notification is heard), at most 5 s; answers the last status and body.
async fn until(c: &reqwest::Client, url: &str, host: Option<&str>, ok: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let mut last = (0, String::new());
    for _ in 0..50 {
        let mut req = c.get(url);
        if let Some(h) = host {
            req = req.header(HOST, h);
        }
        let res = req.send().await.unwrap();
        last = (res.status().as_u16(), res.text().await.unwrap());
        if ok(last.0, &last.1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test]
async fn a_store_is_served_at_the_root_of_its_own_domain() {
    let app = TestApp::spawn().await;
    let TeaHouse { shop, tea, .. } = tea_house(&app).await;
    let c = client();
    const HOST_NAME: &str = "shop.example.jp";

    // nobody's domain yet: the API's 404
    let (status, _) = until(&c, &app.url("/"), Some(HOST_NAME), |s, _| s == 404).await;
    assert_eq!(status, 404);

    // bad names are 422 at the field, a taken one 409
    for bad in ["https://shop.example.jp", "shop.example.jp:8080", "localhost", "127.0.0.1"] {
        let r = app.patch("/admin/v1/store", &shop.owner_token, json!({ "domain": bad })).await.expect(422);
        assert_eq!(r["errors"][0]["field"], "domain", "{bad}");
    }
    let set =
        app.patch("/admin/v1/store", &shop.owner_token, json!({ "domain": "Shop.Example.JP." })).await.expect(200);
    assert_eq!(set["domain"], HOST_NAME, "stored as a Host header carries it");
    let other = app.shop().await;
    let taken = app.patch("/admin/v1/store", &other.owner_token, json!({ "domain": HOST_NAME })).await.expect(409);
    assert_eq!(taken["code"], "store_domain_taken");
    assert_eq!(taken["errors"][0]["field"], "domain");

    // the list at the domain's root: the same page, links without /shop/{store}
    let (status, home) = until(&c, &app.url("/"), Some(HOST_NAME), |s, _| s == 200).await;
    assert_eq!(status, 200, "{home}");
    assert!(home.contains("href=\"/products/sencha\""), "{home}");
    assert!(home.contains("href=\"/privacy\"") && home.contains("href=\"/theme.css\""), "{home}");
    assert!(!home.contains("/shop/"), "no prefixed link at the domain: {home}");
    // a port in the Host is no other domain; the product page and the API are there too
    let product = c.get(app.url("/products/sencha")).header(HOST, "shop.example.jp:443").send().await.unwrap();
    assert_eq!(product.status(), 200);
    assert!(product.text().await.unwrap().contains("静岡の深蒸し煎茶"));
    let api = c.get(app.url(&format!("/store/v1/stores/{}/products", shop.handle))).header(HOST, HOST_NAME);
    assert_eq!(api.send().await.unwrap().status(), 200, "API routes keep answering at the domain");

    // the same page at /shop/{store} keeps its own links (the cache keeps both apart)
    let prefixed = c.get(app.url(&format!("/shop/{}/", shop.handle))).send().await.unwrap().text().await.unwrap();
    assert!(prefixed.contains(&format!("href=\"/shop/{}/products/sencha\"", shop.handle)), "{prefixed}");

    // a cart at the domain: its cookie's path is the domain's root, redirects stay there
    let added = c
        .post(app.url("/cart/items"))
        .header(HOST, HOST_NAME)
        .header("origin", format!("http://{HOST_NAME}"))
        .form(&[("variant_id", tea.as_str()), ("quantity", "2")])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 303);
    assert_eq!(added.headers()[LOCATION].to_str().unwrap(), "/cart?added=held");
    let cookie = added.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.contains("Path=/;") && !cookie.contains("Secure"), "{cookie}");
    let cart = c
        .get(app.url("/cart"))
        .header(HOST, HOST_NAME)
        .header(COOKIE, cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    let cart = cart.text().await.unwrap();
    assert!(cart.contains("静岡の深蒸し煎茶") && cart.contains("data-cart-count=\"2\""), "{cart}");

    // moving the domain to another store applies at once; the first store's root is gone
    app.patch("/admin/v1/store", &shop.owner_token, json!({ "domain": "" })).await.expect(200);
    app.patch("/admin/v1/store", &other.owner_token, json!({ "domain": HOST_NAME })).await.expect(200);
    let (status, page) = until(&c, &app.url("/"), Some(HOST_NAME), |s, b| s == 200 && !b.contains("sencha")).await;
    assert_eq!(status, 200);
    assert!(!page.contains("sencha"), "the other store's (empty) list: {page}");
    app.patch("/admin/v1/store", &other.owner_token, json!({ "domain": "" })).await.expect(200);
    let (status, _) = until(&c, &app.url("/"), Some(HOST_NAME), |s, _| s == 404).await;
    assert_eq!(status, 404, "a cleared domain serves nothing");
}

#[tokio::test]
async fn branding_is_checked_for_contrast_and_shows_at_once_and_the_privacy_page_is_escaped() {
    let app = TestApp::spawn().await;
    let TeaHouse { shop, .. } = tea_house(&app).await;
    let base = app.url(&format!("/shop/{}", shop.handle));
    let c = client();

    // too light to read on white: 422 at the field, nothing changes
    let r = app
        .patch(
            "/admin/v1/store/settings",
            &shop.owner_token,
            json!({ "brand_primary": "#ffcc00", "brand_accent": "#a3341c" }),
        )
        .await
        .expect(422);
    assert_eq!(r["errors"][0]["field"], "brand_primary");
    assert_eq!(r["errors"][0]["code"], "low_contrast");
    let foreign = format!("/media/t/{}/images/x/w600.jpg", uuid::Uuid::new_v4());
    let r = app.patch("/admin/v1/store/settings", &shop.owner_token, json!({ "logo_url": foreign })).await.expect(422);
    assert_eq!(r["errors"][0]["field"], "logo_url", "another tenant's media is no logo");
    let settings = app.get("/admin/v1/store/settings", &shop.owner_token).await.expect(200);
    assert!(settings["brand_primary"].is_null() && settings["brand_accent"].is_null());

    // unset: the theme is empty (the stylesheet's defaults)
    let theme = c.get(format!("{base}/theme.css")).send().await.unwrap();
    assert_eq!(theme.status(), 200);
    assert!(theme.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    let etag = theme.headers()[ETAG].clone();
    assert!(!theme.text().await.unwrap().contains("--accent"));

    let logo = format!("/media/t/{}/images/logo/w200.png", shop.tenant_id);
    app.patch(
        "/admin/v1/store/settings",
        &shop.owner_token,
        json!({ "brand_primary": "#1F5F8B", "brand_accent": "#a3341c", "logo_url": logo }),
    )
    .await
    .expect(200);
    let (_, css) = until(&c, &format!("{base}/theme.css"), None, |_, b| b.contains("#1f5f8b")).await;
    assert!(css.contains("--accent: #1f5f8b;") && css.contains("--brand-accent: #a3341c;"), "{css}");
    assert!(css.contains(&format!("url(\"{logo}\")")), "{css}");
    let stale = c.get(format!("{base}/theme.css")).header(IF_NONE_MATCH, etag).send().await.unwrap();
    assert_eq!(stale.status(), 200, "the browser's old theme is no longer current");

    // the privacy page: the default template until the store writes its own, then its text escaped
    let page = c.get(format!("{base}/privacy")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-default=\"true\"") && page.contains("Test store（以下「当店」"), "{page}");
    let home = c.get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains(&format!("href=\"/shop/{}/privacy\"", shop.handle)), "linked in the footer");
    let policy = "当店の方針です。<script>alert(1)</script>\r\n\r\n第二条 お問い合わせ";
    app.patch("/admin/v1/store/settings", &shop.owner_token, json!({ "privacy_policy": policy })).await.expect(200);
    let page = c.get(format!("{base}/privacy")).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("<script>alert") && page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
    assert!(page.contains("<p class=\"pre\">第二条 お問い合わせ</p>"), "paragraphs: {page}");
    assert!(!page.contains("data-default"));
}

#[tokio::test]
async fn cookies_are_secure_when_configured_or_when_a_trusted_proxy_saw_https() {
    let app = TestApp::spawn_with(|config, _| config.http.trust_forwarded_for = true).await;
    let TeaHouse { shop, tea, .. } = tea_house(&app).await;
    let base = app.url(&format!("/shop/{}", shop.handle));
    let c = client();
    let add = |proto: &'static str| {
        c.post(format!("{base}/cart/items"))
            .header("x-forwarded-proto", proto)
            .form(&[("variant_id", tea.as_str()), ("quantity", "1")])
            .send()
    };
    let plain = add("http").await.unwrap();
    assert!(!plain.headers()[SET_COOKIE].to_str().unwrap().contains("Secure"));
    let https = add("https").await.unwrap();
    assert!(https.headers()[SET_COOKIE].to_str().unwrap().contains("; Secure"));

    let app = TestApp::spawn_with(|config, _| config.http.storefront_secure_cookies = true).await;
    let TeaHouse { shop, tea, .. } = tea_house(&app).await;
    let set = c
        .post(app.url(&format!("/shop/{}/cart/items", shop.handle)))
        .form(&[("variant_id", tea.as_str()), ("quantity", "1")])
        .send()
        .await
        .unwrap();
    assert!(set.headers()[SET_COOKIE].to_str().unwrap().contains("; Secure"));
}

#[tokio::test]
async fn a_shopper_sees_the_stores_colours_and_logo_and_a_live_cart_count() {
    let app = TestApp::spawn().await;
    let TeaHouse { shop, .. } = tea_house(&app).await;
    let base = format!("/shop/{}", shop.handle);
    app.patch("/admin/v1/store/settings", &shop.owner_token, json!({ "brand_primary": "#1f5f8b" })).await.expect(200);
    let mut b = Browser::start(&app.base).await;
    let colour = "getComputedStyle(document.querySelector('form.search button')).backgroundColor";

    assert_eq!(b.goto(&format!("{base}/")).await, 200);
    assert_eq!(b.eval(colour).await, "rgb(31, 95, 139)", "the store's main colour");
    assert_eq!(b.text(".cart-count").await, "", "nothing in the cart yet");

    // add two: the cart page writes the count itself
    assert_eq!(b.goto(&format!("{base}/products/sencha")).await, 200);
    b.fill("#quantity", "2").await;
    assert_eq!(b.click("form.add button[type=submit]").await, 200);
    assert_eq!(b.text(".cart-count").await, "（2）");
    // a cached page (the same bytes for every shopper) gets it from the script
    assert_eq!(b.goto(&format!("{base}/")).await, 200);
    let mut seen = String::new();
    for _ in 0..50 {
        seen = b.text(".cart-count").await;
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, "（2）");
    b.screenshots("storefront-branded").await;

    // a new colour and a logo: the next page shows them
    let logo = format!("/media/t/{}/images/logo/w200.png", shop.tenant_id);
    app.patch("/admin/v1/store/settings", &shop.owner_token, json!({ "brand_primary": "#a3341c", "logo_url": logo }))
        .await
        .expect(200);
    let mut now = serde_json::Value::Null;
    for _ in 0..50 {
        assert_eq!(b.goto(&format!("{base}/")).await, 200);
        now = b.eval(colour).await;
        if now == "rgb(163, 52, 28)" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(now, "rgb(163, 52, 28)", "the change shows at once");
    let logo_css =
        b.eval("getComputedStyle(document.querySelector('header .brand'), '::before').backgroundImage").await;
    assert!(logo_css.as_str().unwrap_or("").contains(&logo), "{logo_css}");
    assert_eq!(b.text("header .brand").await, "Test store", "the name stays the link's text");

    // the privacy page from the footer
    b.click("footer a[href$='/privacy']").await;
    assert_eq!(b.text("h1").await, "プライバシーポリシー");
    b.screenshots("storefront-privacy").await;
    b.close().await;
}
