//! Vendor management: the operator and the mall's owners and admins create and change vendors;
//! a suspended vendor's products are not for sale while its open orders can still be fulfilled.

use reqwest::Method;
use serde_json::{Value, json};

use super::{mall, order, product, shipment_of, vendor};
use crate::support::TestApp;

fn tenpo(app: &TestApp, args: &[&str]) -> (bool, Value, String) {
    let dir = std::env::temp_dir().join(format!("tenpo-vendor-{}", uuid::Uuid::new_v4()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenpo"))
        .args(args)
        .env("DATABASE_URL", app.owner_url())
        .env("TENPO_DATA_DIR", &dir)
        .env_remove("TENPO_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.success(), json, format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn vendors_are_created_and_changed_with_their_payout_details() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = mall(&app).await;
    let path = format!("/platform/v1/tenants/{}/vendors", shop.tenant_id);
    let bank = json!({ "bank_name": "みずほ銀行", "branch_name": "渋谷支店", "account_type": "futsu",
                       "account_number": "1234567", "account_holder_kana": "カ）チャノマ" });
    // the check digit of a registration number is checked; full-width input is fine
    let bad = app
        .op(Method::POST, &path, Some(json!({ "name": "茶の間", "registration_number": "T1123456789012" })))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(bad["errors"][0]["field"], "registration_number");
    let v = app
        .op(
            Method::POST,
            &path,
            Some(json!({ "name": "茶の間", "commission_rate_bps": 1000, "registration_number": "Ｔ７１２３４５６７８９０１２",
                         "bank_account": bank })),
        )
        .await
        .expect(201);
    assert_eq!(v["registration_number"], "T7123456789012");
    assert_eq!(v["status"], "active");
    assert_eq!(v["commission_rate_bps"], 1000);
    assert_eq!(v["bank_account"], bank);
    let id = v["id"].as_str().unwrap();

    // the mall's owner renames it, schedules a new rate and clears the number
    let next_month = (chrono::Utc::now() + chrono::Duration::days(40)).date_naive().to_string();
    let changed = app
        .patch(
            &format!("/admin/v1/vendors/{id}"),
            &shop.owner_token,
            json!({ "name": "茶の間 本店", "commission_rate_bps": 800, "commission_effective_from": next_month,
                    "registration_number": null }),
        )
        .await
        .expect(200);
    assert_eq!(changed["name"], "茶の間 本店");
    assert!(changed["registration_number"].is_null());
    assert_eq!(changed["commission_rate_bps"], 1000, "the new rate is not in effect yet");
    assert_eq!(changed["commission_rates"][0], json!({ "rate_bps": 800, "effective_from": next_month }));
    assert_eq!(changed["commission_rates"][1]["rate_bps"], 1000);
    // a rate cannot start in the past
    app.patch(
        &format!("/admin/v1/vendors/{id}"),
        &shop.owner_token,
        json!({ "commission_rate_bps": 500, "commission_effective_from": "2020-01-01" }),
    )
    .await
    .expect_problem(422, "validation_failed");
    // a rate of today replaces today's
    let today =
        app.op(Method::PATCH, &format!("{path}/{id}"), Some(json!({ "commission_rate_bps": 1200 }))).await.expect(200);
    assert_eq!(today["commission_rate_bps"], 1200);
    assert_eq!(today["commission_rates"].as_array().unwrap().len(), 2);
    let got = app.op(Method::GET, &format!("{path}/{id}"), None).await.expect(200);
    assert_eq!(got["commission_rate_bps"], 1200);

    // vendors read their own record and change nothing
    let va = vendor(&app, &shop, "Vendor A", 1000).await;
    let own = app.get(&format!("/admin/v1/vendors/{}", va.id), &va.owner.token).await.expect(200);
    assert_eq!(own["name"], "Vendor A");
    app.get(&format!("/admin/v1/vendors/{id}"), &va.owner.token).await.expect_problem(404, "vendor_not_found");
    app.patch(&format!("/admin/v1/vendors/{}", va.id), &va.owner.token, json!({ "commission_rate_bps": 0 }))
        .await
        .expect_problem(403, "permission_denied");

    // and the CLI
    let (ok, made, text) = tenpo(
        &app,
        &[
            "vendor",
            "create",
            "--tenant",
            &shop.tenant_id,
            "--name",
            "CLI 商店",
            "--commission-bps",
            "700",
            "--registration-number",
            "T4011001098993",
        ],
    );
    assert!(ok, "{text}");
    assert_eq!(made["registration_number"], "T4011001098993");
    let cli_id = made["id"].as_str().unwrap();
    let payout = json!({ "bank_name": "三井住友銀行", "branch_name": "本店営業部", "account_type": "toza",
                         "account_number": "7654321", "account_holder_kana": "シーエルアイシヨウテン" });
    let (ok, updated, text) = tenpo(
        &app,
        &[
            "vendor",
            "update",
            "--tenant",
            &shop.tenant_id,
            "--vendor",
            cli_id,
            "--status",
            "suspended",
            "--bank-account",
            &payout.to_string(),
        ],
    );
    assert!(ok, "{text}");
    assert_eq!((&updated["status"], &updated["bank_account"]), (&json!("suspended"), &payout));
    let (ok, _, text) = tenpo(
        &app,
        &[
            "vendor",
            "update",
            "--tenant",
            &shop.tenant_id,
            "--vendor",
            cli_id,
            "--bank-account",
            r#"{"account_type": "x"}"#,
        ],
    );
    assert!(!ok && text.contains("account_type"), "{text}");
    let (ok, listed, text) = tenpo(&app, &["vendor", "list", "--tenant", &shop.tenant_id]);
    assert!(ok, "{text}");
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let (ok, _, text) =
        tenpo(&app, &["vendor", "create", "--tenant", &shop.tenant_id, "--name", "X", "--registration-number", "T123"]);
    assert!(!ok && text.contains("registration"), "{text}");
}

#[tokio::test]
async fn a_suspended_vendor_sells_nothing_and_still_ships_its_open_orders() {
    let app = TestApp::spawn().await;
    let shop = mall(&app).await;
    let a = vendor(&app, &shop, "Vendor A", 1000).await;
    let b = vendor(&app, &shop, "Vendor B", 1000).await;
    let pot = product(&app, &a, "Teapot", "A-POT", 4400, "standard", 10).await;
    let tea = product(&app, &b, "Matcha", "B-TEA", 1620, "reduced", 10).await;
    // an open COD order of A's, and a cart still holding A's teapot
    let open = order(&app, &shop, &[(&pot.variant, 1)], "open@example.jp", "cod").await;
    let waiting = crate::checkout::cart_with(&app, &shop, &[(&pot.variant, 1)]).await;
    let store = format!("/store/v1/stores/{}", shop.handle);
    let search = |want_found: bool| {
        let (app, store) = (&app, &store);
        async move {
            for _ in 0..150 {
                let found = app.call(Method::GET, &format!("{store}/search?q=Teapot"), None, None).await.expect(200);
                if found["items"].as_array().is_some_and(|i| i.is_empty() != want_found) {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("search never showed the teapot {}", if want_found { "on sale" } else { "gone" });
        }
    };
    search(true).await;

    app.patch(&format!("/admin/v1/vendors/{}", a.id), &shop.owner_token, json!({ "status": "suspended" }))
        .await
        .expect(200);
    let list = app.call(Method::GET, &format!("{store}/products"), None, None).await.expect(200);
    let titles: Vec<&str> = list["items"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Matcha"]);
    let handle = app.get(&format!("/admin/v1/products/{}", pot.id), &shop.owner_token).await.expect(200)["handle"]
        .as_str()
        .unwrap()
        .to_string();
    app.call(Method::GET, &format!("{store}/products/{handle}"), None, None)
        .await
        .expect_problem(404, "product_not_found");
    let cart = crate::inventory::new_cart(&app, &shop).await;
    crate::inventory::add(&app, &shop, &cart, &pot.variant, 1, None).await.expect_problem(422, "variant_not_available");
    crate::inventory::add(&app, &shop, &cart, &tea.variant, 1, None).await.expect(201);
    let body = json!({ "email": "late@example.jp", "shipping_address": crate::checkout::address("東京都"), "payment_method": "cod" });
    crate::checkout::checkout(&app, &shop, &waiting, body, None).await.expect_problem(422, "variant_not_available");
    // search shows none of them at once, before the worker re-indexes them: its hits are read
    // back through the storefront's read, which leaves a suspended vendor's products out
    let found = app.call(Method::GET, &format!("{store}/search?q=Teapot"), None, None).await.expect(200);
    assert_eq!(found["items"], json!([]), "{found}");
    search(false).await;

    // the open order still ships and is delivered by A's staff
    let id = open["id"].as_str().unwrap();
    let base = format!("/admin/v1/orders/{id}/shipments/{}", shipment_of(&open, &a));
    app.post(&format!("{base}/ship"), &a.staff.token, json!({ "carrier": "佐川急便", "tracking_no": "9" }))
        .await
        .expect(200);
    let done =
        app.post(&format!("{base}/deliver"), &a.staff.token, json!({ "collected": open["total"] })).await.expect(200);
    assert_eq!(done["status"], "completed");

    // back to active: on sale again
    app.patch(&format!("/admin/v1/vendors/{}", a.id), &shop.owner_token, json!({ "status": "active" }))
        .await
        .expect(200);
    crate::inventory::add(&app, &shop, &cart, &pot.variant, 1, None).await.expect(201);
    search(true).await;
}
