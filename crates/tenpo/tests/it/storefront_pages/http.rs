//! The storefront's pages over plain HTTP: a double-submitted checkout places one order, the
//! cart cookie, cached pages answering 304, bad input answering 4xx pages, foreign forms.

use reqwest::header::{COOKIE, ETAG, IF_NONE_MATCH, LOCATION, ORIGIN, SET_COOKIE};

use super::{TeaHouse, orders, tea_house};
use crate::support::TestApp;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The value of a hidden field in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in {html}")) + marker.len();
    html[at..].split('"').next().unwrap().to_string()
}

const DETAILS: &[(&str, &str)] = &[
    ("email", "hanako@example.jp"),
    ("shipping_address.name", "山田 花子"),
    ("shipping_address.name_kana", "ヤマダ ハナコ"),
    ("shipping_address.postal_code", "150-0001"),
    ("shipping_address.prefecture", "東京都"),
    ("shipping_address.city", "渋谷区神宮前"),
    ("shipping_address.line1", "1-2-3"),
    ("shipping_address.phone", "090-1234-5678"),
    ("payment_method", "bank_transfer"),
];

#[tokio::test]
async fn a_double_submitted_checkout_form_places_one_order() {
    let app = TestApp::spawn().await;
    let TeaHouse { shop, tea, .. } = tea_house(&app).await;
    let base = app.url(&format!("/shop/{}", shop.handle));
    let c = client();

    // add to cart: a cart is made and kept in the cookie
    let added = c
        .post(format!("{base}/cart/items"))
        .form(&[("variant_id", tea.as_str()), ("quantity", "2")])
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 303);
    assert!(added.headers()[LOCATION].to_str().unwrap().ends_with("/cart?added=held"));
    let set = added.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly")
            && set.contains("SameSite=Lax")
            && set.contains(&format!("Path=/shop/{}", shop.handle)),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();

    // the confirmation carries a fresh Idempotency-Key
    let confirm = c.post(format!("{base}/checkout")).header(COOKIE, &cookie).form(DETAILS).send().await.unwrap();
    assert_eq!(confirm.status(), 200);
    let page = confirm.text().await.unwrap();
    let key = hidden(&page, "idempotency_key");
    assert_eq!(key.len(), 36, "a UUID: {key}");
    let mut form: Vec<(&str, String)> = DETAILS.iter().map(|(k, v)| (*k, v.to_string())).collect();
    form.push(("idempotency_key", key));

    // a double click: both posts at once, then a reload of the placing post
    let place = || c.post(format!("{base}/checkout/place")).header(COOKIE, &cookie).form(&form).send();
    let (a, b) = tokio::join!(place(), place());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (303, 303));
    let to = a.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(b.headers()[LOCATION].to_str().unwrap(), to, "both lead to the same order");
    let reload = place().await.unwrap();
    assert_eq!(reload.headers()[LOCATION].to_str().unwrap(), to);
    let placed = orders(&app, &shop).await;
    assert_eq!(placed.len(), 1, "one order: {placed:?}");
    assert_eq!(placed[0]["total"]["amount"], 1080 * 2 + 800);
    let order_page = c.get(app.url(&to)).send().await.unwrap();
    assert_eq!(order_page.status(), 200);
    assert!(order_page.text().await.unwrap().contains(&format!("ご注文 #{}", placed[0]["number"])));

    // the ordered cart is forgotten by the cart page
    let cart = c.get(format!("{base}/cart")).header(COOKIE, &cookie).send().await.unwrap();
    assert!(cart.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert!(cart.text().await.unwrap().contains("カートは空です"));
}

#[tokio::test]
async fn pages_are_cached_with_etags_and_bad_input_is_a_4xx_page() {
    let app = TestApp::spawn().await;
    let TeaHouse { shop, cup, .. } = tea_house(&app).await;
    let base = app.url(&format!("/shop/{}", shop.handle));
    let c = client();

    for path in ["/", "/products/yunomi"] {
        let first = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(first.status(), 200, "{path}");
        assert!(first.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let etag = first.headers()[ETAG].clone();
        let again = c.get(format!("{base}{path}")).header(IF_NONE_MATCH, etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{path}: the browser's copy is still good");
    }
    // a price change shows at once
    let product = app.get("/admin/v1/products?limit=10", &shop.owner_token).await.expect(200);
    let yunomi = product["items"].as_array().unwrap().iter().find(|p| p["handle"] == "yunomi").unwrap().clone();
    let (product_id, variant) = (yunomi["id"].as_str().unwrap(), yunomi["variants"][0]["id"].as_str().unwrap());
    app.patch(
        &format!("/admin/v1/products/{product_id}/variants/{variant}"),
        &shop.owner_token,
        serde_json::json!({ "price": super::yen(3500) }),
    )
    .await
    .expect(200);
    let mut seen = String::new();
    for _ in 0..50 {
        seen = c.get(format!("{base}/products/yunomi")).send().await.unwrap().text().await.unwrap();
        if seen.contains("¥3,500") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen.contains("¥3,500"), "the new price: {seen}");

    // disclosures taken off the storefront: the page says they are not published (404)
    let mut draft = crate::support::fixtures::disclosures("株式会社てんぽ茶舗");
    draft["published"] = serde_json::json!(false);
    app.call(reqwest::Method::PUT, "/admin/v1/store/legal-disclosures", Some(&shop.owner_token), Some(draft))
        .await
        .expect(200);
    let legal = c.get(format!("{base}/legal")).send().await.unwrap();
    assert_eq!(legal.status(), 404);
    assert!(legal.text().await.unwrap().contains("legal_disclosures_not_published"));
    // no such store, no such product: 404 pages
    assert_eq!(c.get(app.url("/shop/no-such-store")).send().await.unwrap().status(), 404);
    assert_eq!(c.get(format!("{base}/products/nothing")).send().await.unwrap().status(), 404);
    // a variant that is no id, a quantity that is no number: 422, no cart made
    for form in [[("variant_id", "tea"), ("quantity", "1")], [("variant_id", cup.as_str()), ("quantity", "たくさん")]]
    {
        let r = c.post(format!("{base}/cart/items")).form(&form).send().await.unwrap();
        assert_eq!(r.status(), 422, "{form:?}");
        assert!(r.headers().get(SET_COOKIE).is_none());
    }
    // the details without a street: the API's field error next to the field, nothing ordered
    let added = c.post(format!("{base}/cart/items")).form(&[("variant_id", cup.as_str())]).send().await.unwrap();
    let cookie = added.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let mut form: Vec<(&str, &str)> = DETAILS.iter().filter(|(k, _)| *k != "shipping_address.line1").copied().collect();
    form.push(("idempotency_key", "k-1"));
    let r = c.post(format!("{base}/checkout/place")).header(COOKIE, &cookie).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("data-field=\"shipping_address.line1\""));
    assert!(orders(&app, &shop).await.is_empty());
    // another site's form is refused before anything happens
    let r = c
        .post(format!("{base}/cart/items"))
        .header(ORIGIN, "https://evil.example")
        .form(&[("variant_id", cup.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

/// The cart page of a cookie, until `done` holds (at most 20 s).
async fn cart_until(c: &reqwest::Client, url: &str, cookie: &str, done: impl Fn(&str) -> bool) -> (String, bool) {
    let started = std::time::Instant::now();
    loop {
        let r = c.get(url).header(COOKIE, cookie).send().await.unwrap();
        let refresh = r.headers().contains_key("refresh");
        let page = r.text().await.unwrap();
        if done(&page) {
            return (page, refresh);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "the cart never got there: {page}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_flash_sale_add_shows_the_queues_answer_held_or_sold_out() {
    // no waiting for the decision: a flash-sale add may answer "queued" first
    let app = TestApp::spawn_with(|c, _| c.http.hot_wait_ms = 0).await;
    let shop = app.shop().await;
    let last = crate::inventory::stocked_variant(&app, &shop, 1, true, None).await;
    let base = app.url(&format!("/shop/{}", shop.handle));
    let c = client();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let r = c.post(format!("{base}/cart/items")).form(&[("variant_id", last.as_str())]).send().await.unwrap();
        assert_eq!(r.status(), 303);
        let to = r.headers()[LOCATION].to_str().unwrap().to_string();
        let cookie = r.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
        let url = app.url(&to);
        if to.contains("/cart?queued=") {
            // the queue's answer was not there yet: until it is, the page says so and looks
            // again by itself
            let first = c.get(&url).header(COOKIE, &cookie).send().await.unwrap();
            let refresh = first.headers().contains_key("refresh");
            if first.text().await.unwrap().contains("data-add=\"queued\"") {
                assert!(refresh, "a queued add looks again by itself");
            }
        }
        let (page, refresh) = cart_until(&c, &url, &cookie, |p| !p.contains("data-add=\"queued\"")).await;
        assert!(!refresh, "decided: no more refreshing");
        seen.push(page);
    }
    // one unit: the first shopper holds it, the second is told it sold out
    assert!(seen[0].contains("data-add=\"held\""), "{}", seen[0]);
    assert!(seen[1].contains("data-add=\"refused\"") && seen[1].contains("data-code=\"sold_out\""), "{}", seen[1]);
    assert!(seen[1].contains("売り切れ"));
}
