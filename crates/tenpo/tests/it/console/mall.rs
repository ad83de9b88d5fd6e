//! A mall's vendors and statements in the browser: the mall's owner sees the vendors and the
//! statement being counted, closes it, records the payout (a day in the future first: the
//! API's message at the field, nothing changed) and reads the CSV; a vendor's owner sees only
//! their vendor's statement; each seen through the API.

use serde_json::{Value, json};

use crate::mall::{self, Vendor, shipment_of};
use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::fixtures::PASSWORD;

async fn deliver(app: &TestApp, order: &Value, v: &Vendor) {
    let (id, s) = (order["id"].as_str().unwrap(), shipment_of(order, v));
    app.post(
        &format!("/admin/v1/orders/{id}/shipments/{s}/ship"),
        &v.staff.token,
        json!({ "carrier": "ヤマト運輸", "tracking_no": "1" }),
    )
    .await
    .expect(200);
    app.post(
        &format!("/admin/v1/orders/{id}/shipments/{s}/deliver"),
        &v.staff.token,
        json!({ "collected": order["total"] }),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn console_mall_owner_closes_a_vendors_statement_and_records_its_payout() {
    let app = TestApp::spawn().await;
    let shop = mall::mall(&app).await;
    let a = mall::vendor(&app, &shop, "Vendor A", 1000).await;
    let b_vendor = mall::vendor(&app, &shop, "Vendor B", 1000).await;
    let pa = mall::product(&app, &a, "A の緑茶", "A-TEA", 1000, "reduced", 10).await;
    let placed = mall::order(&app, &shop, &[(&pa.variant, 2)], "x@example.jp", "cod").await;
    deliver(&app, &placed, &a).await;
    let api_open = app.get(&format!("/admin/v1/vendors/{}/statements/open", a.id), &shop.owner_token).await.expect(200);

    let mut br = Browser::start(&app.base).await;
    assert_eq!(br.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);
    br.click("a[href='/console/vendors']").await;
    assert_eq!(br.count("tr[data-vendor]").await, 2);
    br.click("tr[data-vendor='Vendor A'] a.open").await;
    assert_eq!(br.count("table.statement-lines tr[data-order]").await, 1);
    let net = br.text("[data-figure=net_payable]").await;
    assert_eq!(net, format!("¥{}", group(api_open["net_payable"]["amount"].as_i64().unwrap())));
    assert_eq!(br.click("form.close button[type=submit]").await, 200);
    assert_eq!(br.attr("h1 .status", "data-status").await.as_deref(), Some("closed"));
    let url = br.url().await;
    let id = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
    assert_eq!(app.get(&format!("/admin/v1/statements/{id}"), &shop.owner_token).await.expect(200)["status"], "closed");
    br.screenshots("statement").await;

    // a payout dated in the future: the API's message, still closed
    let api_says = app
        .post(
            &format!("/admin/v1/statements/{id}/paid"),
            &shop.owner_token,
            json!({ "paid_on": "2099-01-01", "bank_reference": "X" }),
        )
        .await
        .expect(422);
    br.fill("#paid_on", "2099-01-01").await;
    br.fill("#bank_reference", "振込 0001").await;
    assert_eq!(br.click("form.mark-paid button[type=submit]").await, 422);
    assert_eq!(
        br.text("form.mark-paid [data-field=paid_on]").await,
        api_says["errors"][0]["message"].as_str().unwrap()
    );
    assert_eq!(app.get(&format!("/admin/v1/statements/{id}"), &shop.owner_token).await.expect(200)["status"], "closed");
    let today = chrono::Utc::now().with_timezone(&kernel::jp::jst()).date_naive().to_string();
    br.fill("#paid_on", &today).await;
    assert_eq!(br.click("form.mark-paid button[type=submit]").await, 200);
    let seen = app.get(&format!("/admin/v1/statements/{id}"), &shop.owner_token).await.expect(200);
    assert_eq!((seen["status"].as_str(), seen["bank_reference"].as_str()), (Some("paid"), Some("振込 0001")));
    br.goto("/console/statements").await;
    assert_eq!(br.count("tr[data-statement]").await, 1);
    br.close().await;

    // a vendor's owner: their own vendor only
    let mut vb = Browser::start(&app.base).await;
    assert_eq!(vb.sign_in(&shop.handle, &b_vendor.owner.email, PASSWORD).await, 200);
    vb.goto("/console/vendors").await;
    assert_eq!(vb.texts("tr[data-vendor] td:first-child").await, vec!["Vendor B".to_string()]);
    vb.goto("/console/statements").await;
    assert_eq!(vb.count("tr[data-statement]").await, 0, "A's statement is not B's to see");
    assert_eq!(vb.goto(&format!("/console/statements/{id}")).await, 404);
    vb.close().await;
}

fn group(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::test]
async fn console_vendor_disclosures_are_the_mall_owners_to_publish_and_the_vendors_to_read() {
    let app = TestApp::spawn().await;
    let shop = mall::mall(&app).await;
    let a = mall::vendor(&app, &shop, "Vendor A", 1000).await;
    let b_vendor = mall::vendor(&app, &shop, "Vendor B", 1000).await;
    let token = &shop.owner_token;
    // the mall's own disclosures are published: the public answer lists the vendors' too
    let store_set = crate::support::fixtures::disclosures("株式会社てんぽモール");
    app.call(reqwest::Method::PUT, "/admin/v1/store/legal-disclosures", Some(token), Some(store_set)).await.expect(200);
    let public = format!("/store/v1/stores/{}/legal-disclosures", shop.handle);
    let api_path = format!("/admin/v1/vendors/{}/legal-disclosures", a.id);

    let mut br = Browser::start(&app.base).await;
    assert_eq!(br.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);
    br.goto("/console/vendors").await;
    br.click("tr[data-vendor='Vendor A'] a.disclosures").await;
    assert_eq!(br.text("h1").await, "Vendor A");
    assert!(br.text("section.disclosures .disclosures-state").await.contains("下書き"));
    // publishing with one item: the API's message at each missing item, nothing saved
    let partial = json!({ "published": true, "disclosures": { "seller_name": "A 茶園" } });
    let api_says = app
        .call(reqwest::Method::PUT, &api_path, Some(token), Some(partial))
        .await
        .expect_problem(422, "validation_failed");
    let errors = api_says["errors"].as_array().unwrap();
    br.fill("input[name='disclosures.seller_name']", "A 茶園").await;
    br.check("section.disclosures input[name=published]").await;
    assert_eq!(br.click("section.disclosures button[type=submit]").await, 422);
    for e in errors {
        let field = e["field"].as_str().unwrap();
        assert_eq!(br.text(&format!("span[data-field='{field}']")).await, e["message"].as_str().unwrap());
    }
    assert_eq!(br.count("section.disclosures span.field-error").await as usize, errors.len());
    assert!(app.get(&api_path, token).await.expect(200)["updated_at"].is_null(), "nothing saved");
    br.screenshots("vendor-disclosures-errors").await;
    // every item: published, and on the public disclosures under the vendor's name
    let full = crate::support::fixtures::disclosures("A 茶園");
    for (name, value) in full["disclosures"].as_object().unwrap() {
        br.fill(&format!("section.disclosures [name='disclosures.{name}']"), value.as_str().unwrap()).await;
    }
    assert_eq!(br.click("section.disclosures button[type=submit]").await, 200);
    assert!(br.text("section.disclosures .disclosures-state").await.contains("公開中"));
    br.screenshots("vendor-disclosures").await;
    let shown = app.call(reqwest::Method::GET, &public, None, None).await.expect(200);
    let vendors = shown["vendors"].as_array().unwrap();
    assert_eq!(vendors.len(), 1, "{shown}");
    assert_eq!(vendors[0]["vendor_name"], "Vendor A");
    for (name, value) in full["disclosures"].as_object().unwrap() {
        assert_eq!(&vendors[0]["disclosures"][name], value, "{name}");
    }
    br.close().await;

    // a vendor's owner: their own vendor's page to read (no save: the mall's to change), not A's
    let mut vb = Browser::start(&app.base).await;
    assert_eq!(vb.sign_in(&shop.handle, &b_vendor.owner.email, PASSWORD).await, 200);
    vb.goto("/console/vendors").await;
    vb.click("tr[data-vendor='Vendor B'] a.disclosures").await;
    assert_eq!(vb.text("h1").await, "Vendor B");
    assert_eq!(vb.count("section.disclosures button[type=submit]").await, 0);
    assert_eq!(vb.goto(&format!("/console/vendors/{}/disclosures", a.id)).await, 404);
    vb.close().await;
}
