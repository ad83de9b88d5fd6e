//! Merging a duplicate into a survivor: everything moves, the duplicate stays as a tombstone,
//! concurrent profile edits are all kept, and nothing crosses tenants.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{create, detail, id, sibling, uuid};
use crate::support::{Shop, TestApp};

/// Rows of other domains that name `customer`: a cart, an order with a promotion usage, an
/// inventory reservation and a reservation request (written as their domains would).
async fn rows_naming(owner: &PgPool, shop: &Shop, customer: &str) {
    let (t, s, c, loc) = (uuid(&shop.tenant_id), uuid(&shop.store_id), uuid(customer), uuid(&shop.location_id));
    let n = Uuid::new_v4().simple().to_string();
    let vendor: Uuid = sqlx::query_scalar("SELECT id FROM vendors WHERE tenant_id = $1 AND is_house")
        .bind(t)
        .fetch_one(owner)
        .await
        .unwrap();
    let product: Uuid = sqlx::query_scalar(
        "INSERT INTO products (tenant_id, store_id, vendor_id, handle, title) VALUES ($1, $2, $3, $4, 'P') RETURNING id",
    )
    .bind(t)
    .bind(s)
    .bind(vendor)
    .bind(format!("p-{}", &n[..10]))
    .fetch_one(owner)
    .await
    .unwrap();
    let variant: Uuid = sqlx::query_scalar(
        "INSERT INTO variants (tenant_id, store_id, product_id, sku, price_amount, price_currency)
         VALUES ($1, $2, $3, 'SKU', 1000, 'JPY') RETURNING id",
    )
    .bind(t)
    .bind(s)
    .bind(product)
    .fetch_one(owner)
    .await
    .unwrap();
    let stock: Uuid = sqlx::query_scalar(
        "INSERT INTO inventory_stocks (tenant_id, store_id, location_id, variant_id, stock, reserved)
         VALUES ($1, $2, $3, $4, 10, 1) RETURNING id",
    )
    .bind(t)
    .bind(s)
    .bind(loc)
    .bind(variant)
    .fetch_one(owner)
    .await
    .unwrap();
    let cart: Uuid = sqlx::query_scalar(
        "INSERT INTO carts (tenant_id, store_id, customer_id, secret_hash, email, currency)
         VALUES ($1, $2, $3, '\\x00', 'dup@example.jp', 'JPY') RETURNING id",
    )
    .bind(t)
    .bind(s)
    .bind(c)
    .fetch_one(owner)
    .await
    .unwrap();
    let number: i64 =
        sqlx::query_scalar("SELECT coalesce(max(order_number), 1000) + 1 FROM orders WHERE store_id = $1")
            .bind(s)
            .fetch_one(owner)
            .await
            .unwrap();
    let order: Uuid = sqlx::query_scalar(
        "INSERT INTO orders (tenant_id, store_id, order_number, customer_id, email, status, currency, subtotal_amount,
                             total_amount, payment_method, token_hash)
         VALUES ($1, $2, $3, $4, 'dup@example.jp', 'completed', 'JPY', 3000, 3000, 'cod', '\\x00') RETURNING id",
    )
    .bind(t)
    .bind(s)
    .bind(number)
    .bind(c)
    .fetch_one(owner)
    .await
    .unwrap();
    let promotion: Uuid = sqlx::query_scalar(
        "INSERT INTO promotions (tenant_id, store_id, code, discount_type, value_bps) VALUES ($1, $2, $3, 'percent', 500)
         RETURNING id",
    )
    .bind(t)
    .bind(s)
    .bind(format!("P{}", &n[..8].to_uppercase()))
    .fetch_one(owner)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO promotion_usages (tenant_id, promotion_id, order_id, customer_id) VALUES ($1, $2, $3, $4)",
    )
    .bind(t)
    .bind(promotion)
    .bind(order)
    .bind(c)
    .execute(owner)
    .await
    .unwrap();
    let reservation: Uuid = sqlx::query_scalar(
        "INSERT INTO inventory_reservations (tenant_id, store_id, cart_id, variant_id, location_id, stock_id, customer_id,
                                             quantity, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, now() + interval '15 minutes') RETURNING id",
    )
    .bind(t)
    .bind(s)
    .bind(cart)
    .bind(variant)
    .bind(loc)
    .bind(stock)
    .bind(c)
    .fetch_one(owner)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO inventory_reservation_requests (tenant_id, store_id, cart_id, variant_id, customer_id, quantity,
                                                     status, is_hot, idempotency_key, reservation_id)
         VALUES ($1, $2, $3, $4, $5, 1, 'done', true, $6, $7)",
    )
    .bind(t)
    .bind(s)
    .bind(cart)
    .bind(variant)
    .bind(c)
    .bind(&n)
    .bind(reservation)
    .execute(owner)
    .await
    .unwrap();
}

/// Every table with a customer_id column, and how many of its rows name `customer`.
async fn references(owner: &PgPool, customer: &str) -> Vec<(String, i64)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns
          WHERE table_schema = 'public' AND column_name = 'customer_id' ORDER BY 1",
    )
    .fetch_all(owner)
    .await
    .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE customer_id = $1"))
            .bind(uuid(customer))
            .fetch_one(owner)
            .await
            .unwrap();
        out.push((table, n));
    }
    out
}

#[tokio::test]
async fn merge_moves_everything_and_leaves_only_the_tombstone_pointing_at_the_duplicate() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let s1 = app.shop().await;
    let s2 = sibling(&app, &s1).await;

    let a = id(&create(&app, &s1, json!({ "email": "a@example.jp", "name": "Survivor", "notes": "A's note" })).await);
    let b = id(&create(
        &app,
        &s1,
        json!({ "email": "dup@example.jp", "phone": "090-5555-6666", "name": "Duplicate", "name_kana": "だぶり",
                "notes": "B's note", "preferences": { "newsletter": true } }),
    )
    .await);
    // the duplicate is known at the second store too, and an older duplicate was merged into it
    create(&app, &s2, json!({ "email": "dup@example.jp", "name": "Dup at store 2" })).await;
    let c = id(&create(&app, &s1, json!({ "email": "older@example.jp" })).await);
    app.post(&format!("/admin/v1/customers/{b}/merge"), &s1.owner_token, json!({ "duplicate_id": c }))
        .await
        .expect(200);
    let address = |name: &str, kind: &str| {
        json!({ "type": kind, "name": name, "postal_code": "1500001", "prefecture": "東京", "city": "渋谷区",
                "line1": "1-2-3", "is_default": true })
    };
    for (who, name, kind) in [(&a, "A home", "shipping"), (&b, "B home", "shipping"), (&b, "B office", "billing")] {
        app.post(&format!("/admin/v1/customers/{who}/addresses"), &s1.owner_token, address(name, kind))
            .await
            .expect(201);
    }
    rows_naming(&app.owner, &s1, &b).await;
    let before: Vec<(String, i64)> = references(&app.owner, &b).await;
    let moved: i64 = before.iter().map(|(_, n)| n).sum();
    // profiles, identities, addresses, carts, orders, promotion usages, reservations, requests
    assert_eq!(before.iter().filter(|(_, n)| *n > 0).count(), 8, "{before:?}");

    let merged = app
        .post(&format!("/admin/v1/customers/{a}/merge"), &s1.owner_token, json!({ "duplicate_id": b }))
        .await
        .expect(200);
    assert_eq!(id(&merged), a);

    // nothing points at B any more, in any table, except B's own tombstone row
    for (table, n) in references(&app.owner, &b).await {
        assert_eq!(n, 0, "{table} still names the merged customer");
    }
    assert_eq!(app.count(&format!("SELECT count(*) FROM customers WHERE merged_into_id = '{b}'")).await, 0);
    let after: i64 = references(&app.owner, &a).await.iter().map(|(_, n)| n).sum();
    assert!(after >= moved, "A holds what B held: {after} < {moved}");
    let (status, into, deleted): (String, Option<Uuid>, bool) =
        sqlx::query_as("SELECT status, merged_into_id, deleted_at IS NOT NULL FROM customers WHERE id = $1")
            .bind(uuid(&b))
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert_eq!((status.as_str(), into, deleted), ("merged", Some(uuid(&a)), true));
    let older: Option<Uuid> = sqlx::query_scalar("SELECT merged_into_id FROM customers WHERE id = $1")
        .bind(uuid(&c))
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert_eq!(older, Some(uuid(&a)), "older tombstones follow to the new survivor");

    // identities moved with source = merge; the same-store profiles were combined by the rule
    let ids: BTreeSet<(String, String)> = merged["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["value"].as_str().unwrap().to_string(), i["source"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            ("a@example.jp".into(), "staff".into()),
            ("dup@example.jp".into(), "merge".into()),
            ("older@example.jp".into(), "merge".into()),
            ("+819055556666".into(), "merge".into()),
        ])
    );
    let p = &merged["profile"];
    assert_eq!(p["name"], "Survivor");
    assert_eq!(p["name_kana"], "ダブリ");
    assert_eq!(p["email"], "a@example.jp");
    assert_eq!(p["phone"], "+819055556666");
    assert_eq!(p["notes"], "A's note\n\nB's note");
    assert_eq!(p["preferences"], json!({ "newsletter": true }));
    // the second store's profile moved as it was
    let at_s2 = detail(&app, &s2, &a).await;
    assert_eq!(at_s2["profile"]["name"], "Dup at store 2");
    // addresses: all three, one default per type, the survivor's shipping default kept
    let addresses = merged["addresses"].as_array().unwrap();
    let defaults: BTreeSet<(String, String)> = addresses
        .iter()
        .filter(|a| a["is_default"] == true)
        .map(|a| (a["type"].as_str().unwrap().to_string(), a["name"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(addresses.len(), 3);
    assert_eq!(defaults, BTreeSet::from([("billing".into(), "B office".into()), ("shipping".into(), "A home".into())]));

    // old references resolve: reading B (or the older C) answers A
    assert_eq!(id(&detail(&app, &s1, &b).await), a);
    assert_eq!(id(&detail(&app, &s2, &c).await), a);
    let list = app.get("/admin/v1/customers", &s1.owner_token).await.expect(200);
    let listed: Vec<&str> = list["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [a.as_str()]);
    // the event records it
    let payload: Value = sqlx::query_scalar(
        "SELECT payload_json FROM outbox_events WHERE event_type = 'customer.merged' AND aggregate_id = $1",
    )
    .bind(&a)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert_eq!(payload["merged_id"], b.as_str());
    assert_eq!(payload["counts"]["orders"], 1);
    assert_eq!(payload["counts"]["profiles_combined"], 1);
    // merging again is a no-op answering the survivor; merging into itself is refused
    app.post(&format!("/admin/v1/customers/{a}/merge"), &s1.owner_token, json!({ "duplicate_id": b }))
        .await
        .expect(200);
    app.post(&format!("/admin/v1/customers/{a}/merge"), &s1.owner_token, json!({ "duplicate_id": a }))
        .await
        .expect_problem(422, "cannot_merge_self");
}

#[tokio::test]
async fn every_table_naming_a_customer_is_moved_by_a_merge() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let tables: BTreeSet<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns
          WHERE table_schema = 'public' AND column_name = 'customer_id'",
    )
    .fetch_all(&app.owner)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let handled: BTreeSet<String> = customers::merge::REFERENCING_TABLES
        .iter()
        .chain(&customers::merge::OWN_TABLES)
        .map(|t| t.to_string())
        .collect();
    assert_eq!(tables, handled, "a new table names customers: teach merge (and erasure) about it");
}

#[tokio::test]
async fn a_merge_under_concurrent_profile_edits_loses_none_of_them() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let s1 = app.shop().await;
    let s2 = sibling(&app, &s1).await;
    let a = id(&create(&app, &s1, json!({ "email": "keep@example.jp", "name": "A" })).await);
    let b = id(&create(&app, &s1, json!({ "email": "drop@example.jp", "name": "B" })).await);
    create(&app, &s2, json!({ "email": "drop@example.jp" })).await;

    // 48 edits race one merge: each sets its own preference key on A or B, at store 1 or 2.
    // Four editors send them back to back; the merge starts once 12 have landed, so later
    // edits wait for it or follow the tombstone; the last two rounds start after it committed.
    let edits: Vec<(String, String, String)> = (0..48)
        .map(|i| {
            let (target, shop) = match i % 3 {
                0 => (&a, &s1),
                1 => (&b, &s1),
                _ => (&b, &s2),
            };
            (target.clone(), shop.owner_token.clone(), format!("k{i:02}"))
        })
        .collect();
    let done = Arc::new(AtomicUsize::new(0));
    let (merged_tx, merged_rx) = tokio::sync::watch::channel(false);
    let mut editors = Vec::new();
    for e in 0..4 {
        let (client, base, edits, done, mut merged) =
            (app.client.clone(), app.base.clone(), edits.clone(), done.clone(), merged_rx.clone());
        editors.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for k in 0..12 {
                let i = k * 4 + e;
                if k >= 10 {
                    merged.wait_for(|m| *m).await.unwrap();
                }
                let (target, token, key) = &edits[i];
                let res = client
                    .patch(format!("{base}/admin/v1/customers/{target}"))
                    .bearer_auth(token)
                    .json(&json!({ "preferences": { key: i } }))
                    .send()
                    .await
                    .unwrap();
                answers.push((i, TestApp::read(res).await.expect(200)));
                done.fetch_add(1, Ordering::SeqCst);
            }
            answers
        }));
    }
    let merger = {
        let (client, base, token, a, b, done) =
            (app.client.clone(), app.base.clone(), s1.owner_token.clone(), a.clone(), b.clone(), done.clone());
        tokio::spawn(async move {
            while done.load(Ordering::SeqCst) < 12 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let res = client
                .post(format!("{base}/admin/v1/customers/{a}/merge"))
                .bearer_auth(token)
                .json(&json!({ "duplicate_id": b }))
                .send()
                .await
                .unwrap();
            let answer = TestApp::read(res).await.expect(200);
            merged_tx.send(true).unwrap();
            answer
        })
    };
    assert_eq!(id(&merger.await.unwrap()), a);
    for editor in editors {
        for (i, answer) in editor.await.unwrap() {
            if i >= 40 {
                assert_eq!(id(&answer), a, "an edit of B after the merge lands on A");
            }
        }
    }

    let expected = |store: usize| -> Value {
        let map: serde_json::Map<String, Value> = edits
            .iter()
            .enumerate()
            .filter(|(i, _)| (i % 3 == 2) == (store == 2))
            .map(|(i, (_, _, key))| (key.clone(), json!(i)))
            .collect();
        Value::Object(map)
    };
    let at_s1 = detail(&app, &s1, &a).await;
    assert_eq!(at_s1["profile"]["preferences"], expected(1));
    assert_eq!(at_s1["profile"]["name"], "A");
    let at_s2 = detail(&app, &s2, &a).await;
    assert_eq!(at_s2["profile"]["preferences"], expected(2));
    assert_eq!(app.count(&format!("SELECT count(*) FROM customer_profiles WHERE customer_id = '{b}'")).await, 0);
    assert_eq!(app.count(&format!("SELECT count(*) FROM customer_profiles WHERE customer_id = '{a}'")).await, 2);
    // the race really happened: edits of B committed before the merge are B's events, those
    // after it A's. At least 6 of the 12 edits done before the merge started are B's (each
    // editor alternates targets), and the 6 edits of B in the last two rounds came after it.
    let before_merge = app
        .count(&format!(
            "SELECT count(*) FROM outbox_events WHERE event_type = 'customer.profile_updated' AND aggregate_id = '{b}'"
        ))
        .await;
    assert!((6..=26).contains(&before_merge), "{before_merge} edits of B landed before the merge");
}

#[tokio::test]
async fn a_merge_across_tenants_is_a_404_and_changes_nothing() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let mine = app.shop().await;
    let theirs = app.shop().await;
    let a = id(&create(&app, &mine, json!({ "email": "a@example.jp" })).await);
    let x = id(&create(&app, &theirs, json!({ "email": "x@example.jp" })).await);
    app.post(&format!("/admin/v1/customers/{a}/merge"), &mine.owner_token, json!({ "duplicate_id": x }))
        .await
        .expect_problem(404, "customer_not_found");
    app.post(&format!("/admin/v1/customers/{x}/merge"), &mine.owner_token, json!({ "duplicate_id": a }))
        .await
        .expect_problem(404, "customer_not_found");
    // and a customer of another store of the same tenant is not this store's to merge
    let sib = sibling(&app, &mine).await;
    let y = id(&create(&app, &sib, json!({ "email": "y@example.jp" })).await);
    app.post(&format!("/admin/v1/customers/{a}/merge"), &mine.owner_token, json!({ "duplicate_id": y }))
        .await
        .expect_problem(404, "customer_not_found");
    assert_eq!(app.count("SELECT count(*) FROM customers WHERE status = 'merged'").await, 0);
    // staff may not merge at all
    let (_, staff) = app.member(&mine, "staff").await;
    app.post(&format!("/admin/v1/customers/{a}/merge"), &staff, json!({ "duplicate_id": y }))
        .await
        .expect_problem(403, "permission_denied");
}
