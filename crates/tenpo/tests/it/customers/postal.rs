//! Japan Post postal data over HTTP: the lookup answers every candidate of real codes, every real
//! (code, prefecture) pair is accepted in an address, every mismatched one refused naming the
//! right prefecture, unknown codes refused; `tenpo postal update` replaces the table.

use kernel::jp::Prefecture;
use serde_json::{Value, json};

use super::{create, id};
use crate::support::TestApp;

/// Real Japan Post rows: every prefecture, multi-town codes, the codes spanning two
/// prefectures, the longest town names (every row of each code, in Japan Post's order).
const SAMPLE: &str = include_str!("postal_sample.tsv");

/// code -> [(prefecture, city, city_kana, town, town_kana)], codes in the file's order
fn sample() -> Vec<(String, Vec<[String; 5]>)> {
    let mut out: Vec<(String, Vec<[String; 5]>)> = Vec::new();
    for line in SAMPLE.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let row = [f[1], f[2], f[3], f[4], f[5]].map(String::from);
        match out.last_mut() {
            Some((code, rows)) if code == f[0] => rows.push(row),
            _ => out.push((f[0].to_string(), vec![row])),
        }
    }
    out
}

fn dashed(code: &str) -> String {
    format!("{}-{}", &code[..3], &code[3..])
}

#[tokio::test]
async fn the_lookup_answers_every_candidate_of_real_codes() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let sample = sample();
    let prefectures: std::collections::BTreeSet<&str> =
        sample.iter().flat_map(|(_, rows)| rows.iter().map(|r| r[0].as_str())).collect();
    assert_eq!(prefectures.len(), 47, "the sample covers every prefecture");
    for (i, (code, rows)) in sample.iter().enumerate() {
        // both forms, and full-width digits
        let typed = match i % 3 {
            0 => code.clone(),
            1 => dashed(code),
            _ => code.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap()).collect(),
        };
        let answer = app.call(reqwest::Method::GET, &format!("/store/v1/postal-codes/{typed}"), None, None).await;
        let body = answer.expect(200);
        assert_eq!(body["postal_code"], dashed(code));
        let got: Vec<[String; 5]> = body["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                ["prefecture", "city", "city_kana", "town", "town_kana"].map(|k| c[k].as_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(&got, rows, "{code}");
        for c in body["candidates"].as_array().unwrap() {
            let p = Prefecture::parse(c["prefecture"].as_str().unwrap()).unwrap();
            assert_eq!(c["prefecture_code"], p.code, "{code}");
            assert!(c["prefecture_kana"].as_str().unwrap().ends_with(['ト', 'ウ', 'フ', 'ン']), "{c}");
        }
    }
    let two = app.call(reqwest::Method::GET, "/store/v1/postal-codes/498-0000", None, None).await.expect(200);
    let names: Vec<&str> =
        two["candidates"].as_array().unwrap().iter().map(|c| c["prefecture"].as_str().unwrap()).collect();
    assert!(names.contains(&"愛知県") && names.contains(&"三重県"), "{names:?}");
    for unknown in ["000-0000", "9999999"] {
        app.call(reqwest::Method::GET, &format!("/store/v1/postal-codes/{unknown}"), None, None)
            .await
            .expect_problem(404, "postal_code_not_found");
    }
    for bad in ["12345", "1234-567", "abcdefg", "15000011"] {
        app.call(reqwest::Method::GET, &format!("/store/v1/postal-codes/{bad}"), None, None)
            .await
            .expect_problem(400, "postal_code_invalid");
    }
}

fn address(code: &str, prefecture: &str, city: &str) -> Value {
    json!({ "name": "山田 太郎", "postal_code": code, "prefecture": prefecture, "city": city, "line1": "1-2-3" })
}

/// The field errors of a 422 as (field, code, message).
fn field_errors(body: &Value) -> Vec<(String, String, String)> {
    body["errors"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("field"), s("code"), s("message"))
        })
        .collect()
}

#[tokio::test]
async fn addresses_are_checked_against_japan_post() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let customer = id(&create(&app, &shop, json!({ "email": "postal@example.jp" })).await);
    let path = format!("/admin/v1/customers/{customer}/addresses");
    let mut accepted = 0;
    for (code, rows) in sample() {
        let own: Vec<u8> = rows.iter().map(|r| Prefecture::parse(&r[0]).unwrap().code).collect();
        for row in &rows {
            let saved = app.post(&path, &shop.owner_token, address(&code, &row[0], &row[1])).await.expect(201);
            assert_eq!(saved["postal_code"], dashed(&code));
            accepted += 1;
        }
        // a prefecture the code is not in: refused, naming the one(s) it is in
        let mut other = own[0] % 47 + 1;
        while own.contains(&other) {
            other = other % 47 + 1;
        }
        let wrong = Prefecture::from_code(other).unwrap();
        let body = app
            .post(&path, &shop.owner_token, address(&code, wrong.name, &rows[0][1]))
            .await
            .expect_problem(422, "validation_failed");
        let errors = field_errors(&body);
        assert_eq!(errors.len(), 1, "{body}");
        let (field, error_code, message) = &errors[0];
        assert_eq!((field.as_str(), error_code.as_str()), ("postal_code", "postal_code_prefecture_mismatch"), "{body}");
        for r in &rows {
            assert!(message.contains(&r[0]), "{message} names {}", r[0]);
        }
    }
    assert!(accepted > 200, "{accepted}");
    for unknown in ["000-0000", "999-9999"] {
        let body = app
            .post(&path, &shop.owner_token, address(unknown, "東京都", "渋谷区"))
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(field_errors(&body)[0].1, "postal_code_unknown", "{body}");
    }
    // a change of prefecture alone is checked too
    let saved = app.post(&path, &shop.owner_token, address("6008216", "京都府", "京都市下京区")).await.expect(201);
    let one = format!("{path}/{}", saved["id"].as_str().unwrap());
    let body = app
        .patch(&one, &shop.owner_token, json!({ "prefecture": "三重県" }))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(field_errors(&body)[0].1, "postal_code_prefecture_mismatch");
    assert!(field_errors(&body)[0].2.contains("京都府"), "{body}");
    let kept = app.get(&path, &shop.owner_token).await.expect(200);
    let kept = kept.as_array().unwrap().iter().find(|a| a["id"] == saved["id"]).unwrap().clone();
    assert_eq!(kept["prefecture"], "京都府", "a refused change changes nothing");
}

#[tokio::test]
async fn postal_update_replaces_the_compiled_in_table() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let dir = crate::support::scratch_dir("postal-update");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("utf_ken_all.csv");
    // the official layout: 15 columns, half-width kana, a town split over two rows
    std::fs::write(
        &file,
        "13113,\"150  \",\"1500001\",\"ﾄｳｷｮｳﾄ\",\"ｼﾌﾞﾔｸ\",\"ｼﾞﾝｸﾞｳﾏｴ\",\"東京都\",\"渋谷区\",\"神宮前\",0,0,1,0,0,0\r\n\
         47201,\"900  \",\"9999999\",\"ｵｷﾅﾜｹﾝ\",\"ﾅﾊｼ\",\"ｼﾝﾁｮｳ(ｲｯﾁｮｳﾒ\",\"沖縄県\",\"那覇市\",\"新町（一丁目\",0,0,0,0,0,0\r\n\
         47201,\"900  \",\"9999999\",\"ｵｷﾅﾜｹﾝ\",\"ﾅﾊｼ\",\"ﾆﾁｮｳﾒ)\",\"沖縄県\",\"那覇市\",\"二丁目）\",0,0,0,0,0,0\r\n",
    )
    .unwrap();
    assert_eq!(tenpo::commands::postal::update(&app.db, &file).await.unwrap(), 2);
    // what a server started after the update does
    tenpo::app::load_postal(&app.db).await.unwrap();
    let app = &app;
    let get = |code: &str| {
        let path = format!("/store/v1/postal-codes/{code}");
        async move { app.call(reqwest::Method::GET, &path, None, None).await }
    };
    let new = get("999-9999").await.expect(200);
    assert_eq!(
        new["candidates"],
        json!([{ "prefecture": "沖縄県", "prefecture_code": 47, "prefecture_kana": "オキナワケン",
        "city": "那覇市", "city_kana": "ナハシ", "town": "新町", "town_kana": "シンチョウ" }])
    );
    get("100-0001").await.expect_problem(404, "postal_code_not_found");
    let shop = app.shop().await;
    let customer = id(&create(app, &shop, json!({ "email": "update@example.jp" })).await);
    let path = format!("/admin/v1/customers/{customer}/addresses");
    app.post(&path, &shop.owner_token, address("9999999", "沖縄", "那覇市")).await.expect(201);
    // a file that is not ken_all changes nothing
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "code,prefecture\n1,2\n").unwrap();
    assert!(tenpo::commands::postal::update(&app.db, &bad).await.is_err());
    assert_eq!(app.count("SELECT count(*) FROM postal_codes").await, 2);
}
