//! Statements closed by the worker at the mall's closing day (and racing a close on demand),
//! the operator's reach over every vendor's statements through its API and the CLI, and a
//! counted line canceled later coming back negative.

use chrono::{DateTime, Utc};
use kernel::TenantId;
use mall::statements::{end_of, last_closing};
use reqwest::Method;
use serde_json::{Value, json};
use tenancy::mall::ClosingDay;

use super::{Vendor, mall, order, product, shipment_of, vendor};
use crate::support::{Shop, TestApp};

/// Ships and delivers the vendor's shipment of a COD order (its lines settle); the last one
/// collects the order's total.
async fn deliver(app: &TestApp, order: &Value, v: &Vendor, last: bool) {
    let (id, s) = (order["id"].as_str().unwrap(), shipment_of(order, v));
    app.post(
        &format!("/admin/v1/orders/{id}/shipments/{s}/ship"),
        &v.staff.token,
        json!({ "carrier": "ヤマト運輸", "tracking_no": "1" }),
    )
    .await
    .expect(200);
    let body = if last { json!({ "collected": order["total"] }) } else { json!({}) };
    app.post(&format!("/admin/v1/orders/{id}/shipments/{s}/deliver"), &v.staff.token, body).await.expect(200);
}

fn vendor_line(order: &Value, v: &Vendor) -> String {
    order["items"].as_array().unwrap().iter().find(|l| l["vendor_id"] == v.id.as_str()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn line_ids(statement: &Value) -> Vec<&str> {
    statement["lines"].as_array().unwrap().iter().map(|l| l["order_item_id"].as_str().unwrap()).collect()
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

async fn statements_of(app: &TestApp, shop: &Shop, v: &Vendor) -> Vec<Value> {
    let list = app.get(&format!("/admin/v1/statements?vendor_id={}", v.id), &shop.owner_token).await.expect(200);
    list["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_worker_closes_statements_once_the_closing_day_has_passed() {
    let app = TestApp::spawn_with(|c, _| c.worker.statements_ms = 100).await;
    let shop = mall(&app).await;
    app.patch("/admin/v1/mall/settings", &shop.owner_token, json!({ "closing_day": "20" })).await.expect(200);
    let v = vendor(&app, &shop, "Closing V", 1000).await;
    let p = product(&app, &v, "Bowl", "V-BOWL", 2200, "standard", 10).await;
    let before = order(&app, &shop, &[(&p.variant, 1)], "before@example.jp", "cod").await;
    let after = order(&app, &shop, &[(&p.variant, 1)], "after@example.jp", "cod").await;
    deliver(&app, &before, &v, true).await;
    deliver(&app, &after, &v, true).await;
    // both settled now, after the last closing day: the worker has nothing to close
    assert!(statements_of(&app, &shop, &v).await.is_empty());

    // the vendor joined 60 days ago and the first order was delivered 40 days ago, before the
    // last 20th (at most a month back): that closing day has passed for it. One transaction, so
    // the worker sees both or neither.
    let mut tx = app.owner.begin().await.unwrap();
    sqlx::query("UPDATE vendors SET created_at = now() - interval '60 days' WHERE id = $1::uuid")
        .bind(&v.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE shipments SET delivered_at = now() - interval '40 days' WHERE order_id = $1::uuid")
        .bind(before["id"].as_str().unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut closed = Vec::new();
    for _ in 0..300 {
        closed = statements_of(&app, &shop, &v).await;
        if !closed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(closed.len(), 1, "the worker closed nothing: {closed:?}");
    let s = app.get(&format!("/admin/v1/statements/{}", closed[0]["id"].as_str().unwrap()), &shop.owner_token).await;
    let s = s.expect(200);
    // closed, numbered, at the end of the last 20th (Asia/Tokyo) before it was closed
    assert_eq!((s["status"].as_str(), s["number"].as_i64()), (Some("closed"), Some(1)));
    let closing = last_closing(ClosingDay::Day20, at(&s["closed_at"]));
    assert_eq!(s["closing_date"], closing.to_string());
    assert_eq!(at(&s["period_end"]), end_of(closing));
    // the line settled before it, not the one after; 2,200 + 800 shipping + 330 COD fee
    assert_eq!(line_ids(&s), [vendor_line(&before, &v)]);
    assert_eq!(s["sales"]["amount"], 3330);
    assert_eq!(s["commission"]["amount"], 220);
    let events: Vec<String> = app.events_of(s["id"].as_str().unwrap()).await.into_iter().map(|e| e.0).collect();
    assert_eq!(events, ["statement.closed"]);

    // the worker's next passes close nothing again
    let tenant = TenantId(shop.tenant_id.parse().unwrap());
    assert_eq!(mall::statements::close_due(&app.db, tenant, Utc::now()).await.unwrap(), 0);
    assert_eq!(statements_of(&app, &shop, &v).await.len(), 1);

    // the open statement starts where the closed one ended and holds the later line
    let open = app.get(&format!("/admin/v1/vendors/{}/statements/open", v.id), &shop.owner_token).await.expect(200);
    assert_eq!(open["status"], "open");
    assert_eq!(at(&open["period_start"]), at(&s["period_end"]));
    assert_eq!(line_ids(&open), [vendor_line(&after, &v)]);
    // and the next close counts it, as statement 2
    let next = app
        .post(&format!("/admin/v1/vendors/{}/statements/close", v.id), &shop.owner_token, json!({}))
        .await
        .expect(200);
    assert_eq!((next["number"].as_i64(), line_ids(&next)), (Some(2), vec![vendor_line(&after, &v).as_str()]));
}

/// `tenpo statement ...` against the test's database: (succeeded, stdout as JSON, output).
fn tenpo(app: &TestApp, args: &[&str]) -> (bool, Value, String) {
    let out = crate::support::process::tenpo(app).env_remove("TENPO_LOG").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.success(), json, format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn the_operator_reads_closes_and_pays_every_vendors_statements_by_api_and_cli() {
    let app = TestApp::spawn().await;
    let shop = mall(&app).await;
    let a = vendor(&app, &shop, "陶器 A", 1000).await;
    let b = vendor(&app, &shop, "Tea B", 1000).await;
    app.op(
        Method::PATCH,
        &format!("/platform/v1/tenants/{}/vendors/{}", shop.tenant_id, b.id),
        Some(json!({ "registration_number": "T7123456789012" })),
    )
    .await
    .expect(200);
    let pot = product(&app, &a, "Teapot", "A-POT", 4400, "standard", 10).await;
    let tea = product(&app, &b, "抹茶", "B-TEA", 1620, "reduced", 10).await;
    let placed = order(&app, &shop, &[(&pot.variant, 1), (&tea.variant, 1)], "op@example.jp", "cod").await;
    deliver(&app, &placed, &a, false).await;
    deliver(&app, &placed, &b, true).await;
    let t = shop.tenant_id.as_str();

    // the API: A's open statement, then closed by the operator
    let open = app.op(Method::GET, &format!("/platform/v1/tenants/{t}/vendors/{}/statements/open", a.id), None).await;
    let open = open.expect(200);
    assert_eq!(line_ids(&open), [vendor_line(&placed, &a)]);
    let sa = app.op(Method::POST, &format!("/platform/v1/tenants/{t}/vendors/{}/statements/close", a.id), None).await;
    let sa = sa.expect(200);
    assert_eq!((sa["status"].as_str(), sa["number"].as_i64()), (Some("closed"), Some(1)));
    assert_eq!((sa["sales"].clone(), line_ids(&sa)), (open["sales"].clone(), line_ids(&open)));

    // the CLI: B's, closed; the list has both vendors'
    let (ok, sb, text) = tenpo(&app, &["statement", "close", "--tenant", t, "--vendor", &b.id]);
    assert!(ok, "{text}");
    assert_eq!((sb["number"].as_i64(), line_ids(&sb)), (Some(2), vec![vendor_line(&placed, &b).as_str()]));
    let sb_id = sb["id"].as_str().unwrap().to_string();
    let (ok, listed, text) = tenpo(&app, &["statement", "list", "--tenant", t]);
    assert!(ok, "{text}");
    let numbers: Vec<i64> = listed.as_array().unwrap().iter().map(|s| s["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [2, 1]);
    let api_list = app.op(Method::GET, &format!("/platform/v1/tenants/{t}/statements?vendor_id={}", b.id), None).await;
    let api_list = api_list.expect(200);
    let ids: Vec<&str> = api_list["items"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [sb_id.as_str()]);
    let (ok, shown, text) = tenpo(&app, &["statement", "show", "--tenant", t, "--statement", &sb_id]);
    assert!(ok, "{text}");
    let by_api = app.op(Method::GET, &format!("/platform/v1/tenants/{t}/statements/{sb_id}"), None).await.expect(200);
    assert_eq!(shown, by_api);
    // the mall's own staff see the same statement
    assert_eq!(app.get(&format!("/admin/v1/statements/{sb_id}"), &shop.owner_token).await.expect(200), by_api);

    // CSV in Shift_JIS, from the CLI to a file and from the API, with B's registration number
    let file = std::env::temp_dir().join(format!("statement-{}.csv", uuid::Uuid::new_v4()));
    let out = file.to_str().unwrap();
    let (ok, _, text) = tenpo(
        &app,
        &["statement", "csv", "--tenant", t, "--statement", &sb_id, "--encoding", "shift_jis", "--out", out],
    );
    assert!(ok, "{text}");
    let from_cli = std::fs::read(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    let from_api = app
        .client
        .get(app.url(&format!("/platform/v1/tenants/{t}/statements/{sb_id}/csv?encoding=shift_jis")))
        .bearer_auth(crate::support::OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(from_api.status(), 200);
    assert_eq!(from_api.bytes().await.unwrap().to_vec(), from_cli);
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&from_cli);
    assert!(!bad, "not Shift_JIS");
    assert!(text.contains("登録番号,T7123456789012") && text.contains("抹茶"), "{text}");

    // the payout: recorded by the CLI, once
    let (ok, paid, text) = tenpo(
        &app,
        &[
            "statement",
            "paid",
            "--tenant",
            t,
            "--statement",
            &sb_id,
            "--paid-on",
            "2026-12-01",
            "--bank-reference",
            "F-1",
        ],
    );
    assert!(ok, "{text}");
    assert_eq!((paid["status"].as_str(), paid["bank_reference"].as_str()), (Some("paid"), Some("F-1")));
    app.op(
        Method::POST,
        &format!("/platform/v1/tenants/{t}/statements/{sb_id}/paid"),
        Some(json!({ "paid_on": "2026-12-01", "bank_reference": "again" })),
    )
    .await
    .expect_problem(409, "statement_paid");
    let (ok, _, text) = tenpo(
        &app,
        &[
            "statement",
            "paid",
            "--tenant",
            t,
            "--statement",
            &sb_id,
            "--paid-on",
            "2026-12-01",
            "--bank-reference",
            "x",
        ],
    );
    assert!(!ok && text.contains("paid"), "{text}");
    let sa_id = sa["id"].as_str().unwrap();
    let paid_a = app
        .op(
            Method::POST,
            &format!("/platform/v1/tenants/{t}/statements/{sa_id}/paid"),
            Some(json!({ "paid_on": "2026-12-01", "bank_reference": "F-2" })),
        )
        .await
        .expect(200);
    assert_eq!(paid_a["status"], "paid");
    let (ok, paid_list, text) = tenpo(&app, &["statement", "list", "--tenant", t, "--status", "paid"]);
    assert!(ok, "{text}");
    assert_eq!(paid_list.as_array().unwrap().len(), 2);

    // a single-brand tenant has no statements; another tenant's statement is not found
    let single = app.shop().await;
    let house = app
        .op(Method::GET, &format!("/platform/v1/tenants/{}/vendors", single.tenant_id), None)
        .await
        .expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.op(Method::POST, &format!("/platform/v1/tenants/{}/vendors/{house}/statements/close", single.tenant_id), None)
        .await
        .expect_problem(422, "not_a_mall");
    app.op(Method::GET, &format!("/platform/v1/tenants/{}/statements/{sb_id}", single.tenant_id), None)
        .await
        .expect_problem(404, "statement_not_found");
    let nobody = uuid::Uuid::now_v7();
    app.op(Method::GET, &format!("/platform/v1/tenants/{nobody}/statements"), None)
        .await
        .expect_problem(404, "tenant_not_found");
}

#[tokio::test]
async fn a_close_on_demand_racing_the_workers_close_of_the_same_day_makes_one_statement() {
    // the worker's job is driven by hand here: `close_due` at the moment of the race
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = mall(&app).await;
    let v = vendor(&app, &shop, "Racing V", 1000).await;
    let p = product(&app, &v, "Cup", "V-CUP", 1100, "standard", 10).await;
    let placed = order(&app, &shop, &[(&p.variant, 1)], "race@example.jp", "cod").await;
    deliver(&app, &placed, &v, true).await;
    // the month-end closing day has passed for the vendor and its line
    sqlx::query("UPDATE vendors SET created_at = now() - interval '60 days' WHERE id = $1::uuid")
        .bind(&v.id)
        .execute(&app.owner)
        .await
        .unwrap();
    sqlx::query("UPDATE shipments SET delivered_at = now() - interval '40 days' WHERE order_id = $1::uuid")
        .bind(placed["id"].as_str().unwrap())
        .execute(&app.owner)
        .await
        .unwrap();
    let tenant = TenantId(shop.tenant_id.parse().unwrap());
    let vendor_id = kernel::VendorId(v.id.parse().unwrap());

    // the mall's staff close on demand and have not committed yet when the worker starts
    let mut staff = app.db.begin(tenant).await.unwrap();
    let by_staff = mall::statements::close_now(&mut staff, kernel::access::Acting::Operator, vendor_id).await.unwrap();
    assert_eq!(by_staff.lines.as_ref().map(Vec::len), Some(1));
    let db = app.db.clone();
    let worker = tokio::spawn(async move { mall::statements::close_due(&db, tenant, Utc::now()).await });
    // the worker waits for its turn
    let mut waiting = false;
    for _ in 0..500 {
        waiting = app.count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").await > 0;
        if waiting {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(waiting, "the worker never waited for the staff's close");
    staff.commit().await.unwrap();

    // the worker then sees the period counted and closes nothing
    assert_eq!(worker.await.unwrap().unwrap(), 0);
    let all = statements_of(&app, &shop, &v).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["id"], by_staff.id.unwrap().to_string());
    assert!(at(&all[0]["period_start"]) < at(&all[0]["period_end"]));
}

#[tokio::test]
async fn a_counted_line_canceled_later_comes_back_negative_and_its_debt_carries_forward() {
    let app = TestApp::spawn().await;
    let shop = mall(&app).await;
    let v = vendor(&app, &shop, "Digital V", 1000).await;
    let guide = super::digital_product(&app, &v, "Guide", "V-PDF", 550).await;
    let bowl = product(&app, &v, "Bowl", "V-BOWL", 2200, "standard", 10).await;
    // a paid download counts when paid: on statement 1
    let first = order(&app, &shop, &[(&guide.variant, 1)], "dl@example.jp", "bank_transfer").await;
    let id = first["id"].as_str().unwrap();
    app.post(
        &format!("/admin/v1/orders/{id}/payments/confirm"),
        &shop.owner_token,
        json!({ "received": first["total"] }),
    )
    .await
    .expect(200);
    let close = || async {
        app.post(&format!("/admin/v1/vendors/{}/statements/close", v.id), &shop.owner_token, json!({}))
            .await
            .expect(200)
    };
    let s1 = close().await;
    assert_eq!(line_ids(&s1), [vendor_line(&first, &v)]);
    assert_eq!((s1["sales"]["amount"].as_i64(), s1["commission"]["amount"].as_i64()), (Some(550), Some(55)));
    assert_eq!(s1["net_payable"]["amount"], 550 - 55 - 5);

    // the mall cancels the paid order afterwards (the shopper is owed the refund): statement 2
    // gives the line back, negated, and what the vendor now owes carries forward
    app.post(&format!("/admin/v1/orders/{id}/cancel"), &shop.owner_token, json!({ "reason": "refund" }))
        .await
        .expect(200);
    let open = app.get(&format!("/admin/v1/vendors/{}/statements/open", v.id), &shop.owner_token).await.expect(200);
    let back = &open["lines"][0];
    assert_eq!(
        (back["kind"].as_str(), back["sales_10"].as_i64(), back["commission"].as_i64()),
        (Some("reversal"), Some(-550), Some(-55))
    );
    let s2 = close().await;
    assert_eq!(line_ids(&s2), [vendor_line(&first, &v)]);
    // −550 + 55 + 5 (10% of −55, rounded towards zero: it undoes statement 1's exactly)
    let figures = |s: &Value| {
        ["sales", "commission", "commission_tax", "transfer_fee", "net_payable", "carried_in", "carried_out"]
            .map(|k| s[k]["amount"].as_i64().unwrap())
    };
    assert_eq!(figures(&s2), [-550, -55, -5, 0, 0, 0, -490]);

    // the next sale pays off the debt first; the reversal is never counted again
    let second = order(&app, &shop, &[(&bowl.variant, 1)], "bowl@example.jp", "cod").await;
    deliver(&app, &second, &v, true).await;
    let s3 = close().await;
    assert_eq!(line_ids(&s3), [vendor_line(&second, &v)]);
    // 2,200 + 800 shipping + 330 COD fee; commission 220, its tax 22; 3,330 − 220 − 22 − 490
    assert_eq!(figures(&s3), [3330, 220, 22, 0, 2598, -490, 0]);
    for s in [&s1, &s2, &s3] {
        let f = figures(s);
        assert_eq!(f[0] + f[5], f[1] + f[2] + f[3] + f[4] + f[6], "{s}");
    }

    // `tenpo check` finds the three statements sound, and each tampering
    let statements_check = || {
        let out = crate::support::process::tenpo(&app).args(["check", "--json"]).output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        report["checks"].as_array().unwrap().iter().find(|c| c["name"] == "statements").unwrap().clone()
    };
    let sound = statements_check();
    assert_eq!((sound["checked"].as_i64(), sound["violations"].clone()), (Some(3), json!([])), "{sound}");
    let s3_number = s3["number"].as_i64().unwrap();
    for (corrupt, restore, found) in [
        (
            format!("UPDATE vendor_statements SET net_amount = net_amount + 1 WHERE number = {s3_number}"),
            format!("UPDATE vendor_statements SET net_amount = net_amount - 1 WHERE number = {s3_number}"),
            "+ net 2599",
        ),
        (
            format!(
                "UPDATE vendor_statements SET carried_in_amount = 0, net_amount = net_amount + 490 WHERE number = {s3_number}"
            ),
            format!(
                "UPDATE vendor_statements SET carried_in_amount = -490, net_amount = net_amount - 490 WHERE number = {s3_number}"
            ),
            "carried in 0, the vendor's previous statement carried out -490",
        ),
        (
            "UPDATE vendor_statement_lines SET commission = commission - 1 WHERE kind = 'reversal'".to_string(),
            "UPDATE vendor_statement_lines SET commission = commission + 1 WHERE kind = 'reversal'".to_string(),
            "its lines add up to sales -550 (10%), 0 (8%), commission -56",
        ),
    ] {
        let done = sqlx::query(&corrupt).execute(&app.owner).await.unwrap();
        assert_eq!(done.rows_affected(), 1, "{corrupt}");
        let found_now = statements_check();
        let details: Vec<&str> =
            found_now["violations"].as_array().unwrap().iter().map(|v| v["detail"].as_str().unwrap()).collect();
        assert!(details.iter().any(|d| d.contains(found)), "{corrupt}: {details:?}");
        sqlx::query(&restore).execute(&app.owner).await.unwrap();
    }
    assert_eq!(statements_check()["violations"], json!([]));
}
