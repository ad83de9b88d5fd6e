//! Carrier label CSVs from the console's order list: the selected order's waiting shipment as a
//! B2 Cloud file (downloaded by the browser, decoded as Shift_JIS), the filtered orders' as an
//! e-飛伝 file; the tracking CSV B2 writes back ships the shipments it names (seen through the
//! API) and the page reports each line that did not; a file without the columns is the API's
//! message at the file input and ships nothing.

use serde_json::{Value, json};

use crate::checkout::{address, cart_with, checkout, tea_shop};
use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::fixtures::PASSWORD;

fn sjis_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(bytes);
    assert!(!bad, "not Shift_JIS");
    assert!(!text.replace("\r\n", "").contains('\n'), "CRLF lines only");
    text.split("\r\n").filter(|l| !l.is_empty()).map(|l| l.split(',').map(str::to_string).collect()).collect()
}

#[tokio::test]
async fn console_carrier_csvs_export_the_chosen_orders_and_the_tracking_csv_ships_them() {
    let app = TestApp::spawn().await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    let token = &shop.owner_token;
    let place = |prefecture: &'static str, method: &'static str| {
        let (app, t) = (&app, &t);
        async move {
            let cart = cart_with(app, &t.shop, &[(&t.tea, 1)]).await;
            let body = json!({ "email": "hanako@example.jp", "shipping_address": address(prefecture), "payment_method": method });
            checkout(app, &t.shop, &cart, body, None).await.expect(201)["order"].clone()
        }
    };
    let cod = place("東京都", "cod").await;
    let paid = place("大阪府", "bank_transfer").await;
    let id = |o: &Value| o["id"].as_str().unwrap().to_string();
    let number = |o: &Value| o["number"].as_i64().unwrap().to_string();
    app.post(&format!("/admin/v1/orders/{}/payments/confirm", id(&paid)), token, json!({ "received": paid["total"] }))
        .await
        .expect(200);

    let mut b = Browser::start(&app.base).await;
    assert_eq!(b.sign_in(&shop.handle, &shop.owner_email, PASSWORD).await, 200);
    b.goto("/console/orders").await;
    b.screenshots("orders-carrier-buttons").await;
    // the COD order selected: B2's file holds its shipment only, as the API writes it
    b.check(&format!("tr[data-order='{}'] input[name=order]", number(&cod))).await;
    let (name, bytes) = b.download("button.carrier-csv[value=yamato_b2]").await;
    assert_eq!(name, "yamato-b2.csv");
    let rows = sjis_rows(&bytes);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.len() == 42));
    assert_eq!(rows[0][0], "お客様管理番号");
    assert_eq!((rows[1][0].as_str(), rows[1][1].as_str()), (number(&cod).as_str(), "2"), "COD: label 2");
    assert_eq!(rows[1][11], "東京都渋谷区神宮前１－２－３");
    // nothing selected, the list filtered to bank transfers: e-飛伝's file of the paid order
    b.goto("/console/orders?payment_method=bank_transfer").await;
    let (name, bytes) = b.download("button.carrier-csv[value=sagawa_ehiden]").await;
    assert_eq!(name, "sagawa-ehiden.csv");
    let rows = sjis_rows(&bytes);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.len() == 74));
    assert_eq!(rows[1][9], number(&paid));
    // no filter, nothing selected: both, as the API's export
    b.goto("/console/orders").await;
    let (_, bytes) = b.download("button.carrier-csv[value=yamato_b2]").await;
    let api = app.client.get(app.url("/admin/v1/shipments/export?format=yamato_b2")).bearer_auth(token).send().await;
    let api = api.unwrap().bytes().await.unwrap();
    assert_eq!(sjis_rows(&bytes).len(), 3);
    assert_eq!(sjis_rows(&bytes)[1..], sjis_rows(&api)[1..], "the API's rows");

    // a file without B2's columns: the API's message at the file input, nothing shipped
    let dir = std::env::temp_dir().join(format!("tenpo-tracking-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, encoding_rs::SHIFT_JIS.encode("注文番号,追跡番号\r\n1001,123\r\n").0).unwrap();
    b.click("a.tracking-import").await;
    b.upload("#file", &bad).await;
    assert_eq!(b.click("form.tracking-import button[type=submit]").await, 422);
    let res = app
        .client
        .post(app.url("/admin/v1/shipments/tracking-import?format=yamato_b2"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(std::fs::read(&bad).unwrap())
        .send()
        .await
        .unwrap();
    let api_says = TestApp::read(res).await.expect_problem(422, "validation_failed");
    assert_eq!(b.text("span[data-field=file]").await, api_says["errors"][0]["message"].as_str().unwrap());
    b.screenshots("tracking-import-bad-file").await;
    let seen = app.get(&format!("/admin/v1/orders/{}", id(&cod)), token).await.expect(200);
    assert_eq!(seen["shipments"][0]["status"], "pending");

    // the file B2 writes back: both shipped, the unknown reference reported with its reason
    let good = dir.join("issued.csv");
    let file = format!(
        "お客様管理番号,送り状種類,伝票番号\r\n{},2,4000-1111-2222\r\n99999,0,400011114444\r\n{},0,400011113333\r\n",
        number(&cod),
        number(&paid)
    );
    std::fs::write(&good, encoding_rs::SHIFT_JIS.encode(&file).0).unwrap();
    b.upload("#file", &good).await;
    assert_eq!(b.click("form.tracking-import button[type=submit]").await, 200);
    assert_eq!(b.text("[data-count=shipped]").await, "2");
    assert_eq!(b.text("[data-count=unmatched]").await, "1");
    assert_eq!(b.text("table.tracking-unmatched tr[data-line='3'] td.reason").await, "no such shipment");
    b.screenshots("tracking-import-report").await;
    for (o, tracking) in [(&cod, "400011112222"), (&paid, "400011113333")] {
        let seen = app.get(&format!("/admin/v1/orders/{}", id(o)), token).await.expect(200);
        let s = &seen["shipments"][0];
        assert_eq!((s["status"].as_str(), s["tracking_no"].as_str()), (Some("shipped"), Some(tracking)), "{seen}");
        assert_eq!(s["carrier"], "ヤマト運輸");
    }
    // shipped: the selection's file is only the header now
    b.goto("/console/orders").await;
    let (_, bytes) = b.download("button.carrier-csv[value=yamato_b2]").await;
    assert_eq!(sjis_rows(&bytes).len(), 1);
    std::fs::remove_dir_all(&dir).ok();
    b.close().await;
}
