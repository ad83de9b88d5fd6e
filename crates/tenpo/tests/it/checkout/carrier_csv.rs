//! Carrier label CSVs (issue 19 item 5): a B2 Cloud export of a COD and a prepaid shipment,
//! decoded as Shift_JIS here, has B2's 42 columns, the label types, the amount collected with
//! the fee, the slot's time code and full-width addresses within their lengths; the tracking
//! CSV marks exactly the shipments it names shipped; bad files are clear 4xx.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::{address, cart_with, checkout, tea_shop};
use crate::support::TestApp;

/// Decodes a Shift_JIS CSV into rows of fields (no field here holds a comma or a quote).
fn sjis_rows(bytes: &[u8]) -> (String, Vec<Vec<String>>) {
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(bytes);
    assert!(!bad, "not Shift_JIS");
    let rows =
        text.split("\r\n").filter(|l| !l.is_empty()).map(|l| l.split(',').map(str::to_string).collect()).collect();
    (text.into_owned(), rows)
}

fn sjis(text: &str) -> Vec<u8> {
    encoding_rs::SHIFT_JIS.encode(text).0.into_owned()
}

#[tokio::test]
async fn a_b2_export_then_the_tracking_csv_ships_exactly_those_shipments() {
    // Wednesday 2026-12-02, 09:00 in Japan
    let now = kernel::jp::jst().with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap().with_timezone(&Utc);
    let app = TestApp::spawn_with(|c, _| c.http.clock = kernel::Clock::fixed(now)).await;
    let t = tea_shop(&app).await;
    let shop = &t.shop;
    let token = &shop.owner_token;
    app.patch("/admin/v1/store/checkout-settings", token, json!({ "delivery_slot_preset": "yamato" }))
        .await
        .expect(200);
    // a COD order to a building typed in half-width kana, for the 14-16 slot on a day
    let mut to = address("東京都");
    to["line2"] = json!("ｶﾞｰﾃﾞﾝﾊｲﾂ 101");
    let cart = cart_with(&app, shop, &[(&t.tea, 1)]).await;
    let body = json!({ "email": "hanako@example.jp", "shipping_address": to, "payment_method": "cod",
                       "delivery_date": "2026-12-05", "delivery_slot": "14-16" });
    let cod = checkout(&app, shop, &cart, body, None).await.expect(201)["order"].clone();
    // a bank transfer, paid; and one not paid yet (it may not ship: not exported)
    let place_bank = |lines: Vec<(String, i32)>| {
        let app = &app;
        async move {
            let lines: Vec<(&str, i32)> = lines.iter().map(|(v, q)| (v.as_str(), *q)).collect();
            let cart = cart_with(app, shop, &lines).await;
            let body = json!({ "email": "taro@example.jp", "shipping_address": address("大阪府"), "payment_method": "bank_transfer" });
            checkout(app, shop, &cart, body, None).await.expect(201)["order"].clone()
        }
    };
    let prepaid = place_bank(vec![(t.tea.clone(), 2), (t.cup.clone(), 1)]).await;
    let id = prepaid["id"].as_str().unwrap();
    app.post(&format!("/admin/v1/orders/{id}/payments/confirm"), token, json!({ "received": prepaid["total"] }))
        .await
        .expect(200);
    let unpaid = place_bank(vec![(t.cup.clone(), 1)]).await;

    let res =
        app.client.get(app.url("/admin/v1/shipments/export?format=yamato_b2")).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=shift_jis");
    let bytes = res.bytes().await.unwrap();
    let (text, rows) = sjis_rows(&bytes);
    assert!(text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'), "CRLF lines only");
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows.iter().all(|r| r.len() == 42), "{text}");
    assert_eq!(
        (rows[0][0].as_str(), rows[0][1].as_str(), rows[0][33].as_str()),
        ("お客様管理番号", "送り状種類", "ｺﾚｸﾄ代金引換額（税込)")
    );
    let (c, p) = (&rows[1], &rows[2]);
    let number = |o: &Value| o["number"].as_i64().unwrap().to_string();
    assert_eq!((&c[0], &p[0]), (&number(&cod), &number(&prepaid)));
    // COD: label 2, the amount collected (1,080 + 800 shipping + 330 fee) and its tax
    assert_eq!((c[1].as_str(), c[33].as_str()), ("2", "2210"));
    assert_eq!(
        c[34],
        cod["tax_lines"].as_array().unwrap().iter().map(|t| t["tax_amount"].as_i64().unwrap()).sum::<i64>().to_string()
    );
    assert_eq!((p[1].as_str(), p[33].as_str(), p[34].as_str()), ("0", "", ""));
    // dates and the slot's B2 time code
    assert_eq!((c[4].as_str(), c[5].as_str(), c[6].as_str()), ("2026/12/02", "2026/12/05", "1416"));
    assert_eq!((p[5].as_str(), p[6].as_str()), ("", ""));
    // the address full-width, within B2's lengths; the phone as dialled in Japan
    assert_eq!(c[11], "東京都渋谷区神宮前１－２－３");
    assert_eq!(c[12], "ガーデンハイツ　１０１");
    assert!(c[11].chars().count() <= 32 && c[12].chars().count() <= 16 && c[15].chars().count() <= 16);
    assert_eq!(
        (c[8].as_str(), c[10].as_str(), c[15].as_str(), c[17].as_str()),
        ("09012345678", "150-0001", "山田　花子", "様")
    );
    assert_eq!((c[27].as_str(), p[27].as_str()), ("Ｓｅｎｃｈａ", "Ｓｅｎｃｈａ　他"));

    // e-飛伝: 74 columns, the address over three fields of 16
    let res = app
        .client
        .get(app.url("/admin/v1/shipments/export?format=sagawa_ehiden"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (_, rows) = sjis_rows(&res.bytes().await.unwrap());
    assert!(rows.iter().all(|r| r.len() == 74));
    assert_eq!(rows[1][4..7].concat(), "東京都渋谷区神宮前１－２－３ガーデンハイツ　１０１");
    assert!(rows[1][4..7].iter().all(|f| f.chars().count() <= 16));
    assert_eq!((rows[1][47].as_str(), rows[2][47].as_str()), ("2210", ""));

    // the tracking CSV B2 writes back: the two exported, one the store never had, one unpaid
    let file = format!(
        "お客様管理番号,送り状種類,伝票番号\r\n{},2,4000-1111-2222\r\n{},0,400011113333\r\n99999,0,400011114444\r\n{},0,400011115555\r\n",
        number(&cod),
        number(&prepaid),
        number(&unpaid)
    );
    let res = app
        .client
        .post(app.url("/admin/v1/shipments/tracking-import?format=yamato_b2"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(sjis(&file))
        .send()
        .await
        .unwrap();
    let report = TestApp::read(res).await.expect(200);
    let shipped: Vec<(&str, &str)> = report["shipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["reference"].as_str().unwrap(), r["tracking_no"].as_str().unwrap()))
        .collect();
    assert_eq!(shipped, [(number(&cod).as_str(), "400011112222"), (number(&prepaid).as_str(), "400011113333")]);
    let unmatched: Vec<(i64, &str)> = report["unmatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_i64().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(unmatched, [(4, "no such shipment"), (5, "a bank-transfer order ships once it is paid")]);
    for (o, status) in [(&cod, "shipped"), (&prepaid, "shipped"), (&unpaid, "pending")] {
        let seen = app.get(&format!("/admin/v1/orders/{}", o["id"].as_str().unwrap()), token).await.expect(200);
        assert_eq!(seen["shipments"][0]["status"], status, "{seen}");
        if status == "shipped" {
            assert_eq!(seen["shipments"][0]["carrier"], "ヤマト運輸");
            let shipment = seen["shipments"][0]["id"].as_str().unwrap();
            let events = app.events_of(shipment).await;
            assert!(events.iter().any(|e| e.0 == "shipment.shipped"), "{events:?}");
        }
    }
    // shipped now: the default export (pending) is empty but for the header
    let res =
        app.client.get(app.url("/admin/v1/shipments/export?format=yamato_b2")).bearer_auth(token).send().await.unwrap();
    assert_eq!(sjis_rows(&res.bytes().await.unwrap()).1.len(), 1);
    // a second import of the same file ships nothing again
    let res = app
        .client
        .post(app.url("/admin/v1/shipments/tracking-import?format=yamato_b2"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(sjis(&file))
        .send()
        .await
        .unwrap();
    let again = TestApp::read(res).await.expect(200);
    assert_eq!(again["shipped"], json!([]));
}

#[tokio::test]
async fn bad_tracking_files_are_refused_and_change_nothing() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let post = |ct: &'static str, body: Vec<u8>, format: &'static str| {
        let app = &app;
        let token = shop.owner_token.clone();
        async move {
            let res = app
                .client
                .post(app.url(&format!("/admin/v1/shipments/tracking-import?format={format}")))
                .bearer_auth(token)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            TestApp::read(res).await
        }
    };
    let no_columns = post("text/csv", sjis("注文番号,追跡番号\r\n1001,123\r\n"), "yamato_b2").await;
    let body = no_columns.expect_problem(422, "validation_failed");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("お客様管理番号"), "{body}");
    post("text/csv", vec![0x82, 0xFF, 0xFF, 0x00, 0x81], "yamato_b2").await.expect_problem(422, "validation_failed");
    post("application/json", b"{}".to_vec(), "yamato_b2").await.expect_problem(415, "unsupported_media_type");
    assert_eq!(post("text/csv", sjis("お客様管理番号,伝票番号\r\n"), "fedex").await.status, 400);
    let csv = app
        .client
        .get(app.url("/admin/v1/shipments/export?format=fedex"))
        .bearer_auth(&shop.owner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 400);
}
