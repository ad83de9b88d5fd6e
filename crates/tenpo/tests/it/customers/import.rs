//! CSV import: duplicates across rows resolve to one customer each; the report counts created,
//! matched and rejected rows.

use std::time::Instant;

use serde_json::{Value, json};

use super::{create, sibling};
use crate::support::TestApp;

/// 10,000 rows: 7,000 people, 2,800 repeats of them typed differently (email in capitals or
/// full width, or only the phone in another form), 50 people already known in the tenant
/// (matched, and their phone learned), 150 bad rows.
fn ten_thousand_rows() -> String {
    let mut rows: Vec<String> = Vec::with_capacity(10_000);
    let phone = |i: usize| format!("090-{:04}-{:04}", i / 10_000, i % 10_000);
    for i in 0..7_000 {
        rows.push(format!("p{i}@example.com,{},客 {i},きゃく,", phone(i)));
    }
    for j in 0..1_400 {
        rows.push(format!(" P{j}@EXAMPLE.COM ,,,,repeat by email"));
    }
    for j in 1_400..2_800 {
        let national = phone(j).replace('-', "");
        rows.push(format!(",+81 {} {} {},,,", &national[1..3], &national[3..7], &national[7..]));
    }
    for k in 0..50 {
        rows.push(format!("ＫＮＯＷＮ{k}＠ＥＸＡＭＰＬＥ．ＣＯＭ,080-0000-{k:04},既知,,"));
    }
    for k in 0..150 {
        rows.push(format!("bad-{k},,no contact,,"));
    }
    // spread the repeats over the batches
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for i in (1..order.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        order.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    let mut csv = String::from("email,phone,name,name_kana,notes\n");
    for i in order {
        csv.push_str(&rows[i]);
        csv.push('\n');
    }
    csv
}

#[tokio::test]
async fn a_csv_import_of_ten_thousand_customers_resolves_duplicates_to_one_customer_each() {
    let app = TestApp::spawn_with(|c, o| {
        o.worker = false;
        c.http.max_body_bytes = 4 * 1024 * 1024;
    })
    .await;
    let shop = app.shop().await;
    // the 50 known people were seen at another store of the tenant
    let other = sibling(&app, &shop).await;
    for k in 0..50 {
        create(&app, &other, json!({ "email": format!("known{k}@example.com") })).await;
    }
    let csv = ten_thousand_rows();
    assert_eq!(csv.lines().count(), 10_001);

    let started = Instant::now();
    let res = app
        .client
        .post(app.url("/admin/v1/customers/import"))
        .bearer_auth(&shop.owner_token)
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv)
        .send()
        .await
        .unwrap();
    let report = TestApp::read(res).await.expect(200);
    let elapsed = started.elapsed();
    eprintln!("imported 10,000 customer rows over HTTP in {elapsed:?}");

    assert_eq!(
        (&report["rows"], &report["created"], &report["matched"], &report["rejected"]),
        (&json!(10_000), &json!(7_000), &json!(2_850), &json!(150))
    );
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 150);
    assert!(errors.iter().all(|e| e["field"] == "email" && e["code"] == "invalid"), "{:?}", &errors[..3]);
    let t = &shop.tenant_id;
    assert_eq!(app.count(&format!("SELECT count(*) FROM customers WHERE tenant_id = '{t}'")).await, 7_050);
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM customer_profiles WHERE store_id = '{}'", shop.store_id)).await,
        7_050
    );
    // 7,000 emails and phones, the 50 known emails, and the 50 phones learned for them
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM customer_identities WHERE tenant_id = '{t}' AND source = 'import'"))
            .await,
        14_050
    );
    assert_eq!(app.count(&format!("SELECT count(*) FROM customer_identities WHERE tenant_id = '{t}'")).await, 14_100);
    // each person is one customer holding both identities, with the first non-empty values
    let p42: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT p.name, p.name_kana, p.phone, p.notes FROM customer_profiles p
           JOIN customer_identities i ON i.customer_id = p.customer_id
          WHERE i.identity_value = 'p42@example.com' AND p.store_id = $1",
    )
    .bind(super::uuid(&shop.store_id))
    .fetch_all(&app.owner)
    .await
    .unwrap();
    assert_eq!(
        p42,
        [(
            "客 42".to_string(),
            "キャク".to_string(),
            Some("+819000000042".to_string()),
            Some("repeat by email".to_string())
        )]
    );
    let owners: i64 = app
        .count(&format!(
            "SELECT count(DISTINCT customer_id) FROM customer_identities
              WHERE tenant_id = '{t}' AND identity_value IN ('p2000@example.com', '+819000002000')"
        ))
        .await;
    assert_eq!(owners, 1);

    // importing the same file again creates nobody
    let again = app
        .client
        .post(app.url("/admin/v1/customers/import"))
        .bearer_auth(&shop.owner_token)
        .header("content-type", "text/csv")
        .body(ten_thousand_rows())
        .send()
        .await
        .unwrap();
    let again = TestApp::read(again).await.expect(200);
    assert_eq!((&again["created"], &again["matched"]), (&json!(0), &json!(9_850)));
    assert!(elapsed.as_secs() < 60, "the import took {elapsed:?}");
}

#[tokio::test]
async fn the_cli_import_is_the_same_service() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let csv = "Email,Phone,Name\nsato@example.jp,03-1234-5678,佐藤\nSATO@example.jp,,\n,0312345678,\nbroken,,\n";
    let report = tenpo::commands::customers::import(&app.db, &shop.handle, csv.as_bytes(), false).await.unwrap();
    let report = serde_json::to_value(report).unwrap();
    assert_eq!((&report["created"], &report["matched"], &report["rejected"]), (&json!(1), &json!(2), &json!(1)));
    assert_eq!(report["errors"][0]["line"], 5);
    let list = app.get("/admin/v1/customers", &shop.owner_token).await.expect(200);
    assert_eq!(list["items"][0]["name"], "佐藤");
    assert!(tenpo::commands::customers::import(&app.db, "no-such-store", csv.as_bytes(), false).await.is_err());
}

#[tokio::test]
async fn an_unreadable_file_imports_nothing() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let send = |ct: &'static str, body: &'static [u8]| {
        app.client
            .post(app.url("/admin/v1/customers/import"))
            .bearer_auth(&shop.owner_token)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let a = TestApp::read(send("text/csv", b"email,shoe_size\na@b.jp,27\n").await.unwrap()).await;
    let body: Value = a.expect_problem(422, "unreadable_csv");
    assert!(body["detail"].as_str().unwrap().contains("shoe_size"));
    TestApp::read(send("text/csv", b"\x82\xa0\x82\xa2\n").await.unwrap()).await.expect_problem(422, "unreadable_csv");
    TestApp::read(send("application/json", b"{}").await.unwrap()).await.expect_problem(415, "unsupported_media_type");
    let (_, staff) = app.member(&shop, "staff").await;
    let denied = app
        .client
        .post(app.url("/admin/v1/customers/import"))
        .bearer_auth(&staff)
        .header("content-type", "text/csv")
        .body("email\na@b.jp\n")
        .send()
        .await
        .unwrap();
    TestApp::read(denied).await.expect_problem(403, "permission_denied");
    assert_eq!(app.count("SELECT count(*) FROM customers").await, 0);
}
