//! Statements (精算書): the hand-computed mall order, the close race, CSV in Shift_JIS.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use super::{Vendor, mall, order, product, shipment_of, vendor};
use crate::checkout::yen;
use crate::support::TestApp;

fn line<'a>(order: &'a Value, variant: &str) -> &'a Value {
    order["items"].as_array().unwrap().iter().find(|l| l["variant_id"] == variant).expect("the line")
}

async fn close(app: &TestApp, token: &str, v: &Vendor) -> Value {
    app.post(&format!("/admin/v1/vendors/{}/statements/close", v.id), token, json!({})).await.expect(200)
}

fn amount(v: &Value) -> i64 {
    v["amount"].as_i64().unwrap()
}

/// sales = commission + its tax + fee + net, when nothing is carried.
fn adds_up(s: &Value) {
    assert_eq!(
        amount(&s["sales"]) + amount(&s["carried_in"]),
        amount(&s["commission"])
            + amount(&s["commission_tax"])
            + amount(&s["transfer_fee"])
            + amount(&s["net_payable"])
            + amount(&s["carried_out"]),
        "{s}"
    );
}

#[tokio::test]
async fn three_vendors_a_promotion_cod_and_a_vendor_cancel_match_the_hand_computed_figures() {
    let app = TestApp::spawn().await;
    let shop = mall(&app).await;
    app.patch(
        "/admin/v1/mall/settings",
        &shop.owner_token,
        json!({ "commission_on_cod_fee": true, "transfer_fee": yen(250) }),
    )
    .await
    .expect(200);
    let a = vendor(&app, &shop, "Pottery A", 1000).await;
    let b = vendor(&app, &shop, "Tea B", 1200).await;
    let c = vendor(&app, &shop, "Kitchen C", 1500).await;
    app.patch(
        &format!("/admin/v1/vendors/{}", c.id),
        &shop.owner_token,
        json!({ "registration_number": "T7123456789012" }),
    )
    .await
    .expect(200);
    let pot = product(&app, &a, "Teapot", "A-POT", 4400, "standard", 10).await;
    let tea = product(&app, &b, "Matcha", "B-TEA", 1620, "reduced", 10).await;
    let rice = product(&app, &c, "せんべい", "C-RICE", 864, "reduced", 10).await;
    let cup = product(&app, &c, "湯呑み", "C-CUP", 2200, "standard", 10).await;
    app.post(
        "/admin/v1/promotions",
        &shop.owner_token,
        json!({ "code": "TEN", "discount_type": "percent", "percent_off_bps": 1000 }),
    )
    .await
    .expect(201);
    let cart = crate::checkout::cart_with(
        &app,
        &shop,
        &[(&pot.variant, 1), (&tea.variant, 2), (&rice.variant, 3), (&cup.variant, 1)],
    )
    .await;
    crate::checkout::cart_call(&app, Method::PUT, &shop, &cart, "/promotion", Some(json!({ "code": "TEN" })))
        .await
        .expect(200);
    let placed = crate::checkout::checkout(
        &app,
        &shop,
        &cart,
        json!({ "email": "mall@example.jp", "shipping_address": crate::checkout::address("東京都"), "payment_method": "cod" }),
        None,
    )
    .await
    .expect(201)["order"]
        .clone();
    let id = placed["id"].as_str().unwrap().to_string();

    // subtotal 4,400 + 3,240 + 2,592 + 2,200 = 12,432; 10% off: 1,243.2 -> 1,243, spread by
    // line total: 439.93, 323.95, 259.16, 219.96 -> 439 + 323 + 259 + 219 = 1,240, the 3 yen left
    // to the largest remainders (the cup, the matcha, the teapot): 440, 324, 259, 220
    assert_eq!(placed["subtotal"], yen(12_432));
    assert_eq!(placed["discount"], yen(1243));
    for (variant, d) in [(&pot.variant, 440), (&tea.variant, 324), (&rice.variant, 259), (&cup.variant, 220)] {
        assert_eq!(line(&placed, variant)["discount"], yen(d), "{variant}");
    }
    // goods after discount 3,960 + 2,916 + 2,333 + 1,980 = 11,189: free shipping (from 10,000);
    // COD fee of the 30,000 tier: 440; total 11,629
    assert_eq!(placed["shipping_fee"], yen(0));
    assert_eq!(placed["cod_fee"], yen(440));
    assert_eq!(placed["total"], yen(11_629));
    // 10%: 3,960 + 1,980 + 440 = 6,380, tax 580; 8%: 2,916 + 2,333 = 5,249, floor(388.8) = 388
    assert_eq!(
        placed["tax_lines"],
        json!([{ "rate_bps": 1000, "taxable_amount": 6380, "tax_amount": 580 }, { "rate_bps": 800, "taxable_amount": 5249, "tax_amount": 388 }])
    );
    // the COD fee shared by goods after discount: 155.72, 114.67, 91.74, 77.86 -> 437, the 3 yen
    // to the cup, the crackers, the teapot: 156, 114, 92, 78. Commission on goods + COD share:
    // A 10% × 4,116 = 411.6 -> 411; B 12% × 3,030 = 363.6 -> 363; C 15% × 2,425 = 363.75 -> 363
    // and 15% × 2,058 = 308.7 -> 308
    let whole = app.get(&format!("/admin/v1/orders/{id}"), &shop.owner_token).await.expect(200);
    for (variant, rate, base, commission) in [
        (&pot.variant, 1000, 4116, 411),
        (&tea.variant, 1200, 3030, 363),
        (&rice.variant, 1500, 2425, 363),
        (&cup.variant, 1500, 2058, 308),
    ] {
        assert_eq!(
            line(&whole, variant)["commission"],
            json!({ "rate_bps": rate, "base": yen(base), "amount": yen(commission) }),
            "{variant}"
        );
    }

    // B cancels its lines: the order is A's and C's, each line keeping its shares
    app.post(&format!("/admin/v1/orders/{id}/cancel-lines"), &b.admin.token, json!({ "reason": "out of stock" }))
        .await
        .expect(200);
    let after = app.get(&format!("/admin/v1/orders/{id}"), &shop.owner_token).await.expect(200);
    // 9,192 − 919 + 326 = 8,599 (= 11,629 − B's 2,916 − its 114)
    assert_eq!(after["subtotal"], yen(9192));
    assert_eq!(after["discount"], yen(919));
    assert_eq!(after["cod_fee"], yen(326));
    assert_eq!(after["total"], yen(8599));
    assert_eq!(after["payment"]["amount"], yen(8599));
    // 10%: 3,960 + 1,980 + 326 = 6,266, floor(569.6) = 569; 8%: 2,333, floor(172.8) = 172
    assert_eq!(
        after["tax_lines"],
        json!([{ "rate_bps": 1000, "taxable_amount": 6266, "tax_amount": 569 }, { "rate_bps": 800, "taxable_amount": 2333, "tax_amount": 172 }])
    );
    // the commission of the lines left is what they were placed with
    for v in [&pot.variant, &rice.variant, &cup.variant] {
        assert_eq!(line(&after, v)["commission"], line(&whole, v)["commission"]);
    }

    // A and C ship and deliver; the carrier collects 8,599 with the last
    for (v, collected) in [(&a, None), (&c, Some(8599))] {
        let s = shipment_of(&after, v);
        app.post(
            &format!("/admin/v1/orders/{id}/shipments/{s}/ship"),
            &v.staff.token,
            json!({ "carrier": "ヤマト運輸", "tracking_no": "1" }),
        )
        .await
        .expect(200);
        let body = match collected {
            Some(c) => json!({ "collected": yen(c) }),
            None => json!({}),
        };
        app.post(&format!("/admin/v1/orders/{id}/shipments/{s}/deliver"), &v.staff.token, body).await.expect(200);
    }
    // the open statement shows what a close would count
    let open = app.get(&format!("/admin/v1/vendors/{}/statements/open", a.id), &a.owner.token).await.expect(200);
    assert_eq!((open["status"].as_str(), open["sales"].clone()), (Some("open"), yen(4116)));

    // A: sales 3,960 + 156 = 4,116 (all 10%, containing floor(374.2) = 374); commission 411, its
    // tax 41; fee 250; net 4,116 − 411 − 41 − 250 = 3,414
    let sa = close(&app, &shop.owner_token, &a).await;
    assert_eq!(sa["status"], "closed");
    assert_eq!(sa["sales"], yen(4116));
    assert_eq!(sa["sales_by_rate"], json!([{ "rate_bps": 1000, "sales": yen(4116), "tax": yen(374) }]));
    assert_eq!((sa["commission"].clone(), sa["commission_tax"].clone()), (yen(411), yen(41)));
    assert_eq!((sa["transfer_fee"].clone(), sa["net_payable"].clone()), (yen(250), yen(3414)));
    adds_up(&sa);
    // C: 10%: the cup 1,980 + 78 and the crackers' COD share 92 = 2,150 (tax 195); 8%: the
    // crackers 2,333 (tax 172); sales 4,483; commission 363 + 308 = 671, tax 67; fee 250;
    // net 4,483 − 671 − 67 − 250 = 3,495
    let sc = close(&app, &shop.owner_token, &c).await;
    assert_eq!(sc["sales"], yen(4483));
    assert_eq!(
        sc["sales_by_rate"],
        json!([{ "rate_bps": 1000, "sales": yen(2150), "tax": yen(195) }, { "rate_bps": 800, "sales": yen(2333), "tax": yen(172) }])
    );
    assert_eq!((sc["commission"].clone(), sc["commission_tax"].clone()), (yen(671), yen(67)));
    assert_eq!((sc["transfer_fee"].clone(), sc["net_payable"].clone()), (yen(250), yen(3495)));
    assert_eq!(sc["lines"].as_array().unwrap().len(), 2);
    assert_eq!(sc["registration_number"], "T7123456789012");
    adds_up(&sc);
    // B: its lines were canceled before they settled: nothing on its statement, no fee
    let sb = close(&app, &shop.owner_token, &b).await;
    assert_eq!((sb["sales"].clone(), sb["transfer_fee"].clone(), sb["net_payable"].clone()), (yen(0), yen(0), yen(0)));
    assert_eq!(sb["lines"], json!([]));
    adds_up(&sb);
    // closed statements are numbered; a second close counts nothing again
    assert_eq!((sa["number"].as_i64(), sc["number"].as_i64(), sb["number"].as_i64()), (Some(1), Some(2), Some(3)));
    let again = close(&app, &shop.owner_token, &a).await;
    assert_eq!((again["sales"].clone(), again["lines"].clone()), (yen(0), json!([])));

    // who sees what
    let sc_id = sc["id"].as_str().unwrap();
    app.get(&format!("/admin/v1/statements/{sc_id}"), &c.staff.token).await.expect_problem(403, "permission_denied");
    assert_eq!(
        app.get(&format!("/admin/v1/statements/{sc_id}"), &c.owner.token).await.expect(200)["net_payable"],
        yen(3495)
    );
    app.get(&format!("/admin/v1/statements/{sc_id}"), &a.owner.token).await.expect_problem(404, "statement_not_found");
    let mine = app.get("/admin/v1/statements", &a.owner.token).await.expect(200);
    assert!(mine["items"].as_array().unwrap().iter().all(|s| s["vendor_id"] == a.id.as_str()));
    assert_eq!(mine["items"].as_array().unwrap().len(), 2);
    let all = app.get("/admin/v1/statements", &shop.owner_token).await.expect(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    app.post(&format!("/admin/v1/vendors/{}/statements/close", a.id), &a.owner.token, json!({}))
        .await
        .expect_problem(403, "permission_denied");

    // the CSV: Shift_JIS decodes, and carries the registration number and the figures
    let csv = app
        .client
        .get(app.url(&format!("/admin/v1/statements/{sc_id}/csv?encoding=shift_jis")))
        .bearer_auth(&shop.owner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let bytes = csv.bytes().await.unwrap();
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad, "not Shift_JIS");
    assert!(text.contains("登録番号,T7123456789012"), "{text}");
    assert!(text.contains("お支払額,3495"), "{text}");
    assert!(text.contains("せんべい"), "{text}");
    let utf8 = app
        .client
        .get(app.url(&format!("/admin/v1/statements/{sc_id}/csv")))
        .bearer_auth(&c.owner.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(utf8.starts_with(b"\xEF\xBB\xBF"));
    assert!(String::from_utf8_lossy(&utf8).contains("湯呑み"));
    app.get(&format!("/admin/v1/statements/{sc_id}/csv?encoding=latin1"), &shop.owner_token)
        .await
        .expect_problem(400, "invalid_query");

    // paid: date and bank reference; paid once
    let paid = app
        .post(
            &format!("/admin/v1/statements/{sc_id}/paid"),
            &shop.owner_token,
            json!({ "paid_on": "2026-12-01", "bank_reference": "FURIKOMI-0001" }),
        )
        .await
        .expect(200);
    assert_eq!((paid["status"].as_str(), paid["bank_reference"].as_str()), (Some("paid"), Some("FURIKOMI-0001")));
    app.post(
        &format!("/admin/v1/statements/{sc_id}/paid"),
        &shop.owner_token,
        json!({ "paid_on": "2026-12-01", "bank_reference": "again" }),
    )
    .await
    .expect_problem(409, "statement_paid");
}

#[tokio::test]
async fn closing_while_lines_are_delivered_and_canceled_counts_each_line_once() {
    let app = TestApp::spawn().await;
    let shop = mall(&app).await;
    let v = vendor(&app, &shop, "Racing V", 1000).await;
    let w = vendor(&app, &shop, "Other W", 1000).await;
    let vp = product(&app, &v, "V thing", "V-1", 1100, "standard", 200).await;
    let wp = product(&app, &w, "W thing", "W-1", 1100, "standard", 200).await;
    // 24 COD orders of a V line and a W line; V ships 12 of them
    let mut orders = Vec::new();
    for i in 0..24 {
        let o = order(&app, &shop, &[(&vp.variant, 1), (&wp.variant, 1)], &format!("r{i}@example.jp"), "cod").await;
        orders.push(o);
    }
    let mut to_deliver = Vec::new();
    for o in &orders[..12] {
        let id = o["id"].as_str().unwrap().to_string();
        let s = shipment_of(o, &v);
        app.post(
            &format!("/admin/v1/orders/{id}/shipments/{s}/ship"),
            &v.staff.token,
            json!({ "carrier": "佐川急便", "tracking_no": "9" }),
        )
        .await
        .expect(200);
        to_deliver.push((id, s));
    }
    let v_line = |o: &Value| {
        o["items"].as_array().unwrap().iter().find(|l| l["vendor_id"] == v.id.as_str()).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let delivered: Vec<String> = orders[..12].iter().map(v_line).collect();
    let canceled: Vec<String> = orders[12..].iter().map(v_line).collect();

    // at once: 12 deliveries, 12 cancellations, and closes of V's statement in between
    let mut tasks = tokio::task::JoinSet::new();
    for (id, s) in to_deliver {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/admin/v1/orders/{id}/shipments/{s}/deliver")),
            v.staff.token.clone(),
        );
        tasks.spawn(async move {
            client.post(url).bearer_auth(token).json(&json!({})).send().await.unwrap().status().as_u16()
        });
    }
    for o in &orders[12..] {
        let id = o["id"].as_str().unwrap();
        let (client, url, token) =
            (app.client.clone(), app.url(&format!("/admin/v1/orders/{id}/cancel-lines")), v.admin.token.clone());
        tasks.spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "reason": "race" }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    for _ in 0..4 {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/admin/v1/vendors/{}/statements/close", v.id)),
            shop.owner_token.clone(),
        );
        tasks.spawn(async move {
            client.post(url).bearer_auth(token).json(&json!({})).send().await.unwrap().status().as_u16()
        });
    }
    let statuses: Vec<u16> = tasks.join_all().await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // and the next statement, after everything
    close(&app, &shop.owner_token, &v).await;

    let list =
        app.get(&format!("/admin/v1/statements?vendor_id={}&limit=100", v.id), &shop.owner_token).await.expect(200);
    let statements = list["items"].as_array().unwrap();
    assert_eq!(statements.len(), 5);
    let mut counted: BTreeMap<String, usize> = BTreeMap::new();
    let mut sales = 0;
    for s in statements {
        let full = app
            .get(&format!("/admin/v1/statements/{}", s["id"].as_str().unwrap()), &shop.owner_token)
            .await
            .expect(200);
        sales += amount(&full["sales"]);
        for l in full["lines"].as_array().unwrap() {
            assert_eq!(l["kind"], "sale");
            *counted.entry(l["order_item_id"].as_str().unwrap().to_string()).or_default() += 1;
        }
        adds_up(&full);
    }
    // every delivered line exactly once, no canceled line at all
    let expected: BTreeMap<String, usize> = delivered.iter().map(|l| (l.clone(), 1)).collect();
    assert_eq!(counted, expected);
    assert!(canceled.iter().all(|l| !counted.contains_key(l)));
    // each V line: 1,100 and half the 800 shipping (goods 2,200 under 10,000) and its COD fee share (330 / 2 = 165)
    assert_eq!(sales, 12 * (1100 + 400 + 165));
}
