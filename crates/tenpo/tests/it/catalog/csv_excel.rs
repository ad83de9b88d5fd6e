//! CSV as Excel writes and reads it (issue 19 item 7): every export in utf-8-bom, utf-8 or
//! Shift_JIS; CRLF imports name the right line; the catalog import names a missing column once,
//! calls an open quote a quoting error and echoes the bad value.

use crate::support::{Shop, TestApp};

async fn get(app: &TestApp, shop: &Shop, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).bearer_auth(&shop.owner_token).send().await.unwrap()
}

async fn import(app: &TestApp, shop: &Shop, body: &str) -> crate::support::Answer {
    let res = app
        .client
        .post(app.url("/admin/v1/products/import"))
        .bearer_auth(&shop.owner_token)
        .header("content-type", "text/csv")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    TestApp::read(res).await
}

#[tokio::test]
async fn exports_come_in_each_encoding_and_shift_jis_refuses_what_it_cannot_hold() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    import(&app, &shop, "Handle,Title,Variant SKU,Variant Price\r\nmatcha,抹茶〜宇治,M1,1000\r\n").await.expect(200);

    for path in ["/admin/v1/products/export", "/admin/v1/orders/export"] {
        // utf-8 (the API's default for these): no byte-order mark
        let plain = get(&app, &shop, path).await;
        assert_eq!(plain.status(), 200);
        assert_eq!(plain.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(!plain.bytes().await.unwrap().starts_with(b"\xEF\xBB\xBF"), "{path}");

        let sep = if path.contains('?') { '&' } else { '?' };
        let bom = get(&app, &shop, &format!("{path}{sep}encoding=utf-8-bom")).await;
        assert_eq!(bom.headers()["content-type"], "text/csv; charset=utf-8");
        let bytes = bom.bytes().await.unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "{path}: Excel needs the BOM");

        let sjis = get(&app, &shop, &format!("{path}{sep}encoding=shift_jis")).await;
        assert_eq!(sjis.status(), 200);
        assert_eq!(sjis.headers()["content-type"], "text/csv; charset=shift_jis");
        let bytes = sjis.bytes().await.unwrap();
        assert!(std::str::from_utf8(&bytes).is_err() || bytes.is_ascii(), "really Shift_JIS");
        let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
        assert!(!bad);
        if path.contains("products") {
            // Windows writes 〜 (U+301C) as ～ (U+FF5E): the one substitution made
            assert!(text.contains("抹茶～宇治"), "{text}");
            assert!(text.starts_with("Handle,Title,"));
        }

        app.get(&format!("{path}{sep}encoding=latin1"), &shop.owner_token).await.expect_problem(400, "invalid_query");
    }

    // a character Shift_JIS cannot hold: the export is refused, naming its line and character
    import(&app, &shop, "Handle,Title,Variant SKU,Variant Price\nzz-tea,Tea 🍵 time,T1,500\n").await.expect(200);
    let p = app
        .get("/admin/v1/products/export?encoding=shift_jis", &shop.owner_token)
        .await
        .expect_problem(422, "csv_unencodable");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("line 3") && detail.contains("🍵"), "{detail}");
    // the same catalog in utf-8-bom is fine
    let ok = get(&app, &shop, "/admin/v1/products/export?encoding=utf-8-bom").await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_crlf_file_from_excel_gets_the_right_line_numbers_and_clear_errors() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    // lines: 1 header, 2 and 3 fine, 4 a bad price, 5 fine
    let csv = "Handle,Title,Variant SKU,Variant Price\r\n\
               a,A,A1,100\r\n\
               b,B,B1,200\r\n\
               c,C,C1,12x\r\n\
               d,D,D1,400\r\n";
    let p = import(&app, &shop, csv).await.expect_problem(422, "import_rejected");
    let errors = p["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{p}");
    assert_eq!(errors[0]["field"], "line 4: Variant Price");
    assert!(errors[0]["message"].as_str().unwrap().contains("\"12x\""), "echoes the bad value: {p}");

    // a column every product needs, missing: named once, not on every row
    let p = import(&app, &shop, "Handle,Title,Variant SKU\r\na,A,A1\r\nb,B,B1\r\nc,C,C1\r\n")
        .await
        .expect_problem(422, "import_rejected");
    let errors = p["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{p}");
    assert_eq!((&errors[0]["field"], &errors[0]["code"]), (&"Variant Price".into(), &"missing_column".into()));

    // an open quote is a quoting error on the line it opens, not a swallowed file
    let p =
        import(&app, &shop, "Handle,Title,Variant SKU,Variant Price\r\na,A,A1,100\r\nb,\"B,B1,200\r\nc,C,C1,300\r\n")
            .await
            .expect_problem(422, "unreadable_csv");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("quoting error") && detail.contains("line 3"), "{detail}");
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM products WHERE store_id = '{}'", shop.store_id)).await,
        0,
        "bad files change nothing"
    );
}

#[tokio::test]
async fn a_crlf_customer_file_names_the_right_line() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let csv = "email,name\r\na@example.com,A\r\nb@example.com,B\r\nnot-an-email,C\r\nd@example.com,D\r\n";
    let res = app
        .client
        .post(app.url("/admin/v1/customers/import"))
        .bearer_auth(&shop.owner_token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let report = TestApp::read(res).await.expect(200);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!((&errors[0]["line"], &errors[0]["field"]), (&4.into(), &"email".into()));
}
