//! Products and inventory in the browser: the owner finds products, creates one with two
//! variants and stock (a bad form first: the API's messages at the fields, nothing created),
//! changes a price and a stock number, adjusts stock with a reason, imports and exports the
//! CSV, and sees each change through the API; a vendor's staff see their vendor's products only.

use serde_json::{Value, json};

use crate::checkout::{tea_shop, yen};
use crate::mall;
use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::fixtures::PASSWORD;

async fn level(app: &TestApp, token: &str, variant: &str) -> Value {
    let levels = app.get(&format!("/admin/v1/inventory/levels?variant_id={variant}"), token).await.expect(200);
    levels["items"][0].clone()
}

#[tokio::test]
async fn console_owner_creates_a_product_with_two_variants_and_stock_and_adjusts_it_seen_through_the_api() {
    let app = TestApp::spawn().await;
    let tea = tea_shop(&app).await;
    let shop = &tea.shop;
    let token = &shop.owner_token;
    let products = || app.count("SELECT count(*) FROM products WHERE deleted_at IS NULL");
    let mut b = Browser::start(&app.base).await;
    assert_eq!(b.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);

    // the list, its search and status filter
    b.goto("/console/products").await;
    assert_eq!(b.count("tr[data-product]").await, 3);
    b.fill("#f-q", "sen").await;
    b.click("form.filters button[type=submit]").await;
    assert_eq!(b.texts("tr[data-product] td:first-child").await, vec!["Sencha".to_string()]);
    b.goto("/console/products?q=CUP").await;
    assert_eq!(b.count("tr[data-product]").await, 1, "a SKU finds its product");
    b.goto("/console/products?status=draft").await;
    assert_eq!(b.count("tr[data-product]").await, 0);
    b.goto("/console/products").await;
    assert!(b.text("tr[data-product=sencha]").await.contains("¥1,080"));
    b.screenshots("products").await;

    // a new product with two variants; a price that is no number first
    b.click("a[href='/console/products/new']").await;
    b.fill("#title", "抹茶").await;
    b.fill("#option-0", "容量").await;
    b.fill("input[name='variants[0].sku']", "MATCHA-30").await;
    b.fill("input[name='variants[0].option_values[0]']", "30g").await;
    b.fill("input[name='variants[0].price']", "せんえん").await;
    b.fill("input[name='variants[0].compare_at_price']", "2,000").await;
    b.select("select[name='variants[0].tax_class']", "reduced").await;
    b.fill("input[name='variants[0].inventory_quantity']", "10").await;
    b.fill("input[name='variants[1].sku']", "MATCHA-100").await;
    b.fill("input[name='variants[1].option_values[0]']", "100g").await;
    b.fill("input[name='variants[1].price']", "4320").await;
    b.fill("input[name='variants[1].compare_at_price']", "3000").await;
    b.fill("input[name='variants[1].inventory_quantity']", "5").await;
    assert_eq!(b.click("form.new-product button[value=save]").await, 422);
    assert_eq!(b.text("[data-field='variants[0].price.amount']").await, "must be a whole number of yen");
    assert_eq!(b.value("input[name='variants[1].sku']").await, "MATCHA-100", "what was typed stays");
    assert_eq!(products().await, 3);
    // a compare-at price under the price: the API's own message, at that variant's field
    let api_says = app
        .post(
            "/admin/v1/products",
            token,
            json!({ "title": "抹茶", "options": ["容量"], "variants": [
                { "sku": "X", "option_values": ["30g"], "price": yen(4320), "compare_at_price": yen(3000) }] }),
        )
        .await
        .expect(422);
    assert_eq!(api_says["errors"][0]["field"], "variants[0].compare_at_price.amount");
    let message = api_says["errors"][0]["message"].as_str().unwrap().to_string();
    b.fill("input[name='variants[0].price']", "1,620円").await;
    assert_eq!(b.click("form.new-product button[value=save]").await, 422);
    assert_eq!(b.text("[data-field='variants[1].compare_at_price.amount']").await, message);
    assert_eq!(b.count("[data-field='variants[0].price.amount']").await, 0);
    assert_eq!(products().await, 3, "nothing was created");
    b.screenshots("product-new-errors").await;
    b.fill("input[name='variants[1].compare_at_price']", "").await;
    // a third row, left empty, is not sent
    b.click("form.new-product button[value=more]").await;
    assert_eq!(b.count("tr[data-row]").await, 3);
    assert_eq!(b.click("form.new-product button[value=save]").await, 200);
    assert!(b.text(".notice").await.contains("作成しました"));
    assert_eq!(products().await, 4);
    let url = b.url().await;
    let id = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
    let seen = app.get(&format!("/admin/v1/products/{id}"), token).await.expect(200);
    assert_eq!((seen["title"].as_str(), seen["status"].as_str()), (Some("抹茶"), Some("draft")));
    assert_eq!(seen["options"], json!(["容量"]));
    let variants = seen["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(
        (variants[0]["sku"].as_str(), &variants[0]["price"]["amount"], &variants[0]["compare_at_price"]["amount"]),
        (Some("MATCHA-30"), &json!(1620), &json!(2000))
    );
    assert_eq!(
        (variants[0]["tax_class"].as_str(), variants[1]["tax_class"].as_str()),
        (Some("reduced"), Some("standard"))
    );
    assert_eq!(variants[1]["option_values"], json!(["100g"]));
    let (v30, v100) =
        (variants[0]["id"].as_str().unwrap().to_string(), variants[1]["id"].as_str().unwrap().to_string());
    assert_eq!(level(&app, token, &v30).await["stock"], 10);
    assert_eq!(level(&app, token, &v100).await["stock"], 5);
    b.screenshots("product").await;

    // publish it, change a price, set a stock number
    b.select("#status", "active").await;
    assert_eq!(b.click("form.product button[type=submit]").await, 200);
    assert_eq!(app.get(&format!("/admin/v1/products/{id}"), token).await.expect(200)["status"], "active");
    b.fill("section[data-sku=MATCHA-100] input[name=price]", "4,000").await;
    assert_eq!(b.click("section[data-sku=MATCHA-100] form.variant button[type=submit]").await, 200);
    let seen = app.get(&format!("/admin/v1/products/{id}/variants/{v100}"), token).await.expect(200);
    assert_eq!(seen["price"]["amount"], 4000);
    let location = level(&app, token, &v100).await["location_id"].as_str().unwrap().to_string();
    b.fill(&format!("input[name='stock.{v100}.{location}']"), "12").await;
    b.select("#stock-reason", "receipt").await;
    assert_eq!(b.click("form.stock button[type=submit]").await, 200);
    assert!(b.text(".notice").await.contains("在庫を更新しました"));
    assert_eq!(level(&app, token, &v100).await["stock"], 12);
    assert_eq!(level(&app, token, &v30).await["stock"], 10, "an unchanged number is left alone");

    // adjust stock with a reason: a zero first (the API's message), then three damaged
    b.click("tr[data-sku=MATCHA-30] a.history").await;
    assert_eq!(b.text("[data-level=stock] .count").await, "10");
    let api_says = app
        .post(
            "/admin/v1/inventory/adjustments",
            token,
            json!({ "variant_id": v30, "location_id": location, "delta": 0, "reason": "damage" }),
        )
        .await
        .expect(422);
    b.fill("#delta", "0").await;
    b.select("#reason", "damage").await;
    assert_eq!(b.click("form.adjust button[type=submit]").await, 422);
    assert_eq!(b.text("form.adjust [data-field=delta]").await, api_says["errors"][0]["message"].as_str().unwrap());
    assert_eq!(level(&app, token, &v30).await["stock"], 10);
    b.fill("#delta", "-3").await;
    b.fill("#note", "箱つぶれ").await;
    assert_eq!(b.click("form.adjust button[type=submit]").await, 200);
    assert!(b.text(".notice").await.contains("在庫を調整しました"));
    assert_eq!(b.text("[data-level=stock] .count").await, "7");
    assert_eq!(b.text("table.movements tbody tr:first-child td.delta").await, "-3");
    assert_eq!(b.attr("table.movements tbody tr:first-child", "data-reason").await.as_deref(), Some("damage"));
    assert_eq!(b.count("table.movements tbody tr[data-reason]").await, 2, "the initial stock, then the damage");
    b.screenshots("inventory-level").await;
    assert_eq!(level(&app, token, &v30).await["stock"], 7);
    let moves = app.get(&format!("/admin/v1/inventory/movements?variant_id={v30}"), token).await.expect(200);
    assert_eq!(
        (moves["items"][0]["reason"].as_str(), &moves["items"][0]["stock_delta"], moves["items"][0]["note"].as_str()),
        (Some("damage"), &json!(-3), Some("箱つぶれ"))
    );
    b.goto("/console/inventory").await;
    assert!(b.text("tr[data-sku=MATCHA-30]").await.contains('7'));
    b.screenshots("inventory").await;

    // CSV import: a bad file imports nothing and names its rows; a good one reports its counts
    let dir = std::path::PathBuf::from(std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into()));
    let bad = dir.join(format!("console-bad-{}.csv", uuid::Uuid::new_v4().simple()));
    std::fs::write(&bad, "Handle,Title,Variant SKU,Variant Price\nhojicha,ほうじ茶,HOJI,\n").unwrap();
    b.goto("/console/products/import").await;
    b.upload("#file", &bad).await;
    assert_eq!(b.click("form.import button[type=submit]").await, 422);
    assert!(b.text(".problem").await.contains("line 2"), "{}", b.text(".problem").await);
    assert_eq!(products().await, 4);
    let good = dir.join(format!("console-good-{}.csv", uuid::Uuid::new_v4().simple()));
    std::fs::write(
        &good,
        "Handle,Title,Variant SKU,Variant Price,Variant Inventory Qty\nhojicha,ほうじ茶,HOJI,900,8\n",
    )
    .unwrap();
    b.upload("#file", &good).await;
    assert_eq!(b.click("form.import button[type=submit]").await, 200);
    assert_eq!(b.text("[data-count=products_created]").await, "1");
    b.screenshots("products-import").await;
    let found = app.get("/admin/v1/products?q=HOJI", token).await.expect(200);
    assert_eq!(found["items"][0]["variants"][0]["price"]["amount"], 900);
    let _ = std::fs::remove_file(&bad);
    let _ = std::fs::remove_file(&good);
    // the export (the page's link, fetched with the browser's session) is the API's file
    assert_eq!(b.count("a[href='/console/products/export']").await, 0, "not on the import page");
    b.goto("/console/products").await;
    let href = b.attr("a[download]", "href").await.unwrap();
    let cookies = b.cookies().await;
    let session = cookies.as_array().unwrap().iter().find(|c| c["name"] == "tenpo_console").unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    let exported = app
        .client
        .get(app.url(&href))
        .header("cookie", format!("tenpo_console={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let from_api = app.client.get(app.url("/admin/v1/products/export")).bearer_auth(token).send().await.unwrap();
    assert_eq!(exported, from_api.text().await.unwrap());
    assert!(exported.contains("MATCHA-30") && exported.contains("HOJI"));

    // deleting it: gone from the API too
    b.goto(&format!("/console/products/{id}")).await;
    assert_eq!(b.click("section.delete-product button[type=submit]").await, 200);
    app.get(&format!("/admin/v1/products/{id}"), token).await.expect_problem(404, "product_not_found");
    b.close().await;
}

/// A vendor's staff in a mall see and change their vendor's products only.
#[tokio::test]
async fn console_vendor_staff_see_only_their_vendors_products() {
    let app = TestApp::spawn().await;
    let shop = mall::mall(&app).await;
    let a = mall::vendor(&app, &shop, "Vendor A", 1000).await;
    let b_vendor = mall::vendor(&app, &shop, "Vendor B", 1000).await;
    let pa = mall::product(&app, &a, "A の緑茶", "A-TEA", 1000, "reduced", 10).await;
    let pb = mall::product(&app, &b_vendor, "B の急須", "B-POT", 5000, "standard", 10).await;

    let mut br = Browser::start(&app.base).await;
    assert_eq!(br.sign_in(&shop.handle, &a.owner.email, PASSWORD).await, 200);
    br.goto("/console/products").await;
    assert_eq!(br.texts("tr[data-product] td:first-child").await, vec!["A の緑茶".to_string()]);
    br.goto("/console/products?q=B-POT").await;
    assert_eq!(br.count("tr[data-product]").await, 0);
    assert_eq!(br.goto(&format!("/console/products/{}", pb.id)).await, 404, "another vendor's product is no page");
    br.goto(&format!("/console/products/{}", pa.id)).await;
    assert_eq!(br.count("#vendor_id").await, 0, "a vendor's staff do not choose the vendor");
    assert_eq!(br.count("form.stock input.qty").await, 1, "stock at the vendor's own warehouse");
    br.screenshots("product-vendor").await;
    br.goto("/console/inventory").await;
    assert_eq!(br.texts("tr[data-sku] td:first-child").await, vec!["A-TEA".to_string()]);
    assert_eq!(
        br.goto(&format!("/console/inventory/level?variant_id={}&location_id={}", pb.variant, b_vendor.location_id))
            .await,
        404
    );
    // a new product is the vendor's own
    br.goto("/console/products/new").await;
    br.fill("#title", "A の抹茶").await;
    br.fill("input[name='variants[0].sku']", "A-MATCHA").await;
    br.fill("input[name='variants[0].price']", "1500").await;
    assert_eq!(br.click("form.new-product button[value=save]").await, 200);
    let found = app.get("/admin/v1/products?q=A-MATCHA", &shop.owner_token).await.expect(200);
    assert_eq!(found["items"][0]["vendor_id"], a.id.as_str());
    br.close().await;
}
