//! A shopper in a real headless Chromium: browses the list and a product, searches in
//! Japanese, adds two items, checks out by bank transfer and by COD through the final
//! confirmation, and sees the order page; then the same checkout with JavaScript off.

use std::time::{Duration, Instant};

use super::{TeaHouse, orders, tea_house};
use crate::search::search_until;
use crate::support::TestApp;
use crate::support::browser::Browser;

/// Fills the details form (postal code, address, name) as a shopper types it.
pub(super) async fn fill_details(b: &mut Browser, email: &str, with_js: bool) {
    b.fill("#email", email).await;
    b.fill("#shipping_address-name", "山田 花子").await;
    b.fill("#shipping_address-name_kana", "ヤマダ ハナコ").await;
    b.fill("#shipping_address-postal_code", "150-0001").await;
    if with_js {
        // the postal-code lookup fills the prefecture and city (JavaScript enhancement)
        b.eval("document.querySelector('[data-postal]').dispatchEvent(new Event('change'))").await;
        let started = Instant::now();
        while b.value("#shipping_address-prefecture").await != "東京都" {
            assert!(started.elapsed() < Duration::from_secs(10), "the postal code did not fill the prefecture");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(b.value("#shipping_address-city").await.starts_with("渋谷区"), "the city is filled too");
    } else {
        b.select("#shipping_address-prefecture", "東京都").await;
        b.fill("#shipping_address-city", "渋谷区神宮前").await;
    }
    b.fill("#shipping_address-line1", "1-2-3").await;
    b.fill("#shipping_address-phone", "090-1234-5678").await;
}

pub(super) async fn add(b: &mut Browser, base: &str, handle: &str, quantity: &str) {
    assert_eq!(b.goto(&format!("{base}/products/{handle}")).await, 200);
    b.fill("#quantity", quantity).await;
    assert_eq!(b.click("form.add button[type=submit]").await, 200);
    assert_eq!(b.attr("[data-add]", "data-add").await.as_deref(), Some("held"), "{}", b.text("main").await);
}

#[tokio::test]
async fn a_shopper_browses_searches_in_japanese_and_buys_by_bank_transfer_and_by_cod() {
    let app = TestApp::spawn().await;
    let TeaHouse { shop, .. } = tea_house(&app).await;
    let base = format!("/shop/{}", shop.handle);
    search_until(&app, &shop.handle, "q=%E7%85%8E%E8%8C%B6", |p| p["total"] == 1).await;
    let mut b = Browser::start(&app.base).await;

    // the list: newest first, then by price
    assert_eq!(b.goto(&format!("{base}/")).await, 200);
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("ja"));
    assert_eq!(b.text("header .brand").await, "Test store");
    assert_eq!(b.count("li[data-product]").await, 3);
    b.screenshots("storefront-list").await;
    b.click("a[href$='?sort=price_asc']").await;
    assert_eq!(b.attr("li[data-product]", "data-product").await.as_deref(), Some("guide"), "cheapest first");

    // search in Japanese, from the header's search box
    b.fill("#q", "煎茶").await;
    assert_eq!(b.click("form.search button[type=submit]").await, 200);
    assert_eq!(b.count("li[data-product]").await, 1);
    assert!(b.text("li[data-product=sencha]").await.contains("静岡の深蒸し煎茶"));
    assert!(b.text("h1").await.contains("煎茶"));
    b.screenshots("storefront-search").await;

    // the product: tax-inclusive price with its compare-at price, stock, add two
    b.click("li[data-product=sencha] a").await;
    assert!(b.url().await.ends_with("/products/sencha"));
    let price = b.text("[data-variant=TEA] .price").await;
    assert!(price.contains("¥1,080") && price.contains("税込"), "{price}");
    assert_eq!(b.text("[data-variant=TEA] del.compare-at").await, "¥1,280");
    assert_eq!(b.text("[data-variant=TEA] .stock").await, "在庫あり");
    b.screenshots("storefront-product").await;
    add(&mut b, &base, "sencha", "2").await;
    add(&mut b, &base, "yunomi", "1").await;

    // the cart: two lines, ¥1,080 × 2 + ¥3,300
    assert_eq!(b.count("tr[data-sku]").await, 2);
    assert_eq!(b.text("#cart-total").await, "¥5,460");
    b.screenshots("storefront-cart").await;
    // the cookie keeps the cart id and secret from scripts, and from other sites' forms
    let cookies = b.cookies().await;
    let cart = cookies.as_array().unwrap().iter().find(|c| c["name"] == "tenpo_cart").expect("the cart cookie");
    assert_eq!(cart["httpOnly"], true);
    assert_eq!(cart["sameSite"], "Lax");

    // checkout by bank transfer, the postal code filling the address
    b.click("#to-checkout").await;
    fill_details(&mut b, "hanako@example.jp", true).await;
    b.select("#delivery_slot", "am").await;
    assert!(b.text("[data-method=cod]").await.contains("¥330"), "the COD fee is shown with the method");
    b.check("input[name=payment_method][value=bank_transfer]").await;
    b.screenshots("storefront-checkout").await;
    assert_eq!(b.click("form.checkout button[type=submit]").await, 200);
    // the final confirmation: nothing ordered yet
    assert_eq!(b.text("h1").await, "ご注文内容の確認");
    assert_eq!(b.text("#shipping-fee").await, "¥800");
    assert_eq!(b.text("#grand-total").await, "¥6,260");
    assert!(b.text("main").await.contains("午前中"));
    assert!(orders(&app, &shop).await.is_empty(), "the confirmation places nothing");
    // the seller's terms, as the final confirmation screen must show them
    assert!(b.text(".terms").await.contains("株式会社てんぽ茶舗"));
    assert!(b.text(".terms [data-term=returns]").await.contains("商品到着後8日以内"));
    b.screenshots("storefront-confirm").await;
    assert_eq!(b.click("#place").await, 200);

    // the order page, by its token link: the transfer's account and due date
    assert!(b.text("h1").await.starts_with("ご注文 #"));
    assert_eq!(b.attr(".status", "data-status").await.as_deref(), Some("pending_payment"));
    assert_eq!(b.text("#account-number").await, "1234567");
    assert_eq!(b.text("#amount-due").await, "¥6,260");
    assert!(!b.text("#due").await.is_empty());
    b.screenshots("storefront-order-bank-transfer").await;
    let first = orders(&app, &shop).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["payment_method"], "bank_transfer");
    assert_eq!(first[0]["total"]["amount"], 6260);
    let detail =
        app.get(&format!("/admin/v1/orders/{}", first[0]["id"].as_str().unwrap()), &shop.owner_token).await.expect(200);
    assert_eq!(detail["delivery_slot"], "am");
    assert_eq!(detail["shipping_address"]["prefecture"], "東京都");
    // the order's page again, later, from its link
    let link = b.url().await;
    b.new_session().await;
    assert_eq!(b.goto(&link).await, 200);
    assert_eq!(b.text("#order-total").await, "¥6,260");
    assert_eq!(b.goto(&link.replace("token=", "token=x")).await, 404, "another token shows nothing");

    // the store's commercial disclosures, linked from every page
    b.goto(&format!("{base}/")).await;
    assert_eq!(b.click("footer a[href$='/legal']").await, 200);
    assert_eq!(b.text("[data-item=seller_name]").await, "株式会社てんぽ茶舗");
    assert!(b.text("[data-item=extra_charges]").await.contains("送料"));
    b.screenshots("storefront-legal").await;

    // the ordered cart is gone: a second purchase, paid on delivery
    add(&mut b, &base, "yunomi", "1").await;
    assert_eq!(b.count("tr[data-sku]").await, 1);
    b.click("#to-checkout").await;
    fill_details(&mut b, "hanako@example.jp", true).await;
    b.check("input[name=payment_method][value=cod]").await;
    assert_eq!(b.click("form.checkout button[type=submit]").await, 200);
    assert_eq!(b.text("#cod-fee").await, "¥330");
    assert_eq!(b.text("#grand-total").await, "¥4,430");
    assert_eq!(b.click("#place").await, 200);
    assert!(b.text("#cod").await.contains("¥4,430"));
    b.screenshots("storefront-order-cod").await;
    let all = orders(&app, &shop).await;
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|o| o["payment_method"] == "cod" && o["total"]["amount"] == 4430));
    b.close().await;
}

#[tokio::test]
async fn the_same_checkout_works_without_javascript() {
    let app = TestApp::spawn().await;
    let TeaHouse { shop, .. } = tea_house(&app).await;
    let base = format!("/shop/{}", shop.handle);
    let mut b = Browser::start(&app.base).await;
    b.new_session_without_js().await;
    assert_eq!(b.goto(&format!("{base}/")).await, 200);
    add(&mut b, &base, "sencha", "2").await;
    add(&mut b, &base, "yunomi", "1").await;
    b.click("#to-checkout").await;
    fill_details(&mut b, "taro@example.jp", false).await;
    assert_eq!(b.value("#shipping_address-prefecture").await, "東京都");
    b.check("input[name=payment_method][value=bank_transfer]").await;
    assert_eq!(b.click("form.checkout button[type=submit]").await, 200);
    assert_eq!(b.text("#grand-total").await, "¥6,260");
    // back to the details and on again: what was typed stays
    assert_eq!(b.click("button[formaction$='/checkout/edit']").await, 200);
    assert_eq!(b.value("#shipping_address-line1").await, "1-2-3");
    assert_eq!(b.click("form.checkout button[type=submit]").await, 200);
    assert_eq!(b.click("#place").await, 200);
    assert_eq!(b.text("#account-number").await, "1234567");
    b.screenshots("storefront-order-no-js").await;
    let placed = orders(&app, &shop).await;
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0]["email"], "taro@example.jp");
    b.close().await;
}

#[tokio::test]
async fn a_digital_guide_is_bought_paid_and_downloaded_until_its_limit() {
    let app = TestApp::spawn().await;
    let TeaHouse { shop, guide, .. } = tea_house(&app).await;
    let product = crate::digital::product_of(&app, &guide).await;
    crate::digital::upload(&app, &shop, &product, &guide, b"guide", "gyokuro.pdf", Some("application/pdf"))
        .await
        .expect(201);
    crate::digital::limit_product(&app, &shop, &product, 2).await;
    let base = format!("/shop/{}", shop.handle);
    let mut b = Browser::start(&app.base).await;

    // a digital product: no stock to hold, no address needed
    assert_eq!(b.goto(&format!("{base}/products/guide")).await, 200);
    assert_eq!(b.text("[data-variant=PDF] .stock").await, "ダウンロード商品");
    assert_eq!(b.click("form.add button[type=submit]").await, 200);
    assert_eq!(b.attr("[data-add]", "data-add").await.as_deref(), Some("added"));
    b.click("#to-checkout").await;
    b.fill("#email", "jiro@example.jp").await;
    b.check("input[name=payment_method][value=bank_transfer]").await;
    assert_eq!(b.click("form.checkout button[type=submit]").await, 200);
    assert_eq!(b.text("#grand-total").await, "¥550");
    assert_eq!(b.click("#place").await, 200);
    assert!(b.text("#downloads").await.contains("ご入金の確認後"), "nothing to download before the payment");
    let order_url = b.url().await;

    // staff confirm the transfer through the API; the deliveries follow (the worker)
    let order = orders(&app, &shop).await[0].clone();
    app.post(
        &format!("/admin/v1/orders/{}/payments/confirm", order["id"].as_str().unwrap()),
        &shop.owner_token,
        serde_json::json!({ "received": order["total"] }),
    )
    .await
    .expect(200);
    let started = Instant::now();
    loop {
        b.goto(&order_url).await;
        if b.count("li[data-delivery]").await == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the delivery never appeared");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(b.attr(".remaining", "data-remaining").await.as_deref(), Some("2"));
    assert!(b.count("#receipt").await == 1, "paid: the receipt is there");
    b.screenshots("storefront-order-downloads").await;

    // the shopper downloads in the browser twice, the limit; the third press comes back refused
    for _ in 0..2 {
        let (_, bytes) = b.download("form.download button").await;
        assert_eq!(bytes, b"guide");
    }
    b.click("form.download button").await;
    assert!(b.url().await.contains("refused=download_limit_reached"), "{}", b.url().await);
    assert!(b.text("#downloads .problem").await.contains("上限"));
    assert_eq!(b.attr(".remaining", "data-remaining").await.as_deref(), Some("0"));
    assert_eq!(b.count("form.download").await, 0);
    b.close().await;
}

#[tokio::test]
async fn a_promotion_code_in_the_cart_and_the_shipments_tracking_number_on_the_order_page() {
    let app = TestApp::spawn().await;
    let TeaHouse { shop, .. } = tea_house(&app).await;
    app.post(
        "/admin/v1/promotions",
        &shop.owner_token,
        serde_json::json!({ "code": "TEN", "discount_type": "percent", "percent_off_bps": 1000 }),
    )
    .await
    .expect(201);
    let base = format!("/shop/{}", shop.handle);
    let mut b = Browser::start(&app.base).await;
    add(&mut b, &base, "sencha", "2").await;

    // a code nobody issued is refused in the cart; the store's takes 10% off
    b.fill("#code", "NOPE").await;
    b.click("form[action$='/cart/promotion'] button[type=submit]").await;
    assert!(b.count("[role=alert]").await >= 1, "{}", b.text("main").await);
    assert_eq!(b.count("tr.discount").await, 0);
    b.fill("#code", "TEN").await;
    assert_eq!(b.click("form[action$='/cart/promotion'] button[type=submit]").await, 200);
    let discount = b.text("tr.discount").await;
    assert!(discount.contains("TEN") && discount.contains("¥216"), "{discount}");
    assert_eq!(b.text("#cart-total").await, "¥1,944");

    // ordered with the discount, paid on delivery
    b.click("#to-checkout").await;
    fill_details(&mut b, "saburo@example.jp", true).await;
    b.check("input[name=payment_method][value=cod]").await;
    assert_eq!(b.click("form.checkout button[type=submit]").await, 200);
    assert_eq!(b.click("#place").await, 200);
    assert!(b.text("table.totals").await.contains("-¥216"));
    let order_url = b.url().await;

    // staff ship it with a tracking number: the order page shows the carrier and the number
    let order = orders(&app, &shop).await[0].clone();
    let id = order["id"].as_str().unwrap();
    let detail = app.get(&format!("/admin/v1/orders/{id}"), &shop.owner_token).await.expect(200);
    let shipment = detail["shipments"][0]["id"].as_str().unwrap();
    app.post(
        &format!("/admin/v1/orders/{id}/shipments/{shipment}/ship"),
        &shop.owner_token,
        serde_json::json!({ "carrier": "ヤマト運輸", "tracking_no": "1234-5678-9012" }),
    )
    .await
    .expect(200);
    assert_eq!(b.goto(&order_url).await, 200);
    assert_eq!(b.text("li[data-shipment] .tracking").await, "1234-5678-9012");
    let line = b.text("li[data-shipment]").await;
    assert!(line.contains("ヤマト運輸") && line.contains("発送済み"), "{line}");
    b.screenshots("storefront-order-tracking").await;
    b.close().await;
}
