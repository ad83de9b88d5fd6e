//! The order mails, read back from a real SMTP server (aiosmtpd): each arrives once per event,
//! with the order's number and amounts, and for a bank transfer the store's account and the
//! due date; an event delivered again after a relay crash mails nothing more.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Value, json};

use super::{address, cart_with, checkout, yen};
use crate::digital::guide_shop;
use crate::support::TestApp;
use crate::support::smtp::{Mail, Smtp};

/// The id of the one event of this type about the order (its aggregate, or its payload's
/// `order_id`), once every consumer is done with it.
async fn published(app: &TestApp, event_type: &str, order: &str) -> uuid::Uuid {
    for _ in 0..600 {
        let row: Option<(uuid::Uuid, String)> = sqlx::query_as(
            "SELECT id, status FROM outbox_events
              WHERE event_type = $1 AND (aggregate_id::text = $2 OR payload_json->>'order_id' = $2)",
        )
        .bind(event_type)
        .bind(order)
        .fetch_optional(&app.owner)
        .await
        .unwrap();
        if let Some((id, status)) = row
            && status == "published"
        {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no published {event_type} for order {order}");
}

fn with_subject<'a>(mails: &'a [Mail], part: &str) -> Vec<&'a Mail> {
    mails.iter().filter(|m| m.subject.contains(part)).collect()
}

fn one<'a>(mails: &'a [Mail], part: &str) -> &'a Mail {
    let found = with_subject(mails, part);
    assert_eq!(found.len(), 1, "one mail with «{part}» expected: {mails:#?}");
    found[0]
}

fn has(mail: &Mail, parts: &[&str]) {
    for p in parts {
        assert!(mail.body.contains(p), "«{p}» missing from {}: {}", mail.subject, mail.body);
    }
}

#[tokio::test]
async fn a_bank_transfer_order_mails_each_step_once_with_its_number_amount_and_account() {
    let smtp = Smtp::start().await;
    let app = TestApp::spawn_with(|c, _| smtp.configure(c)).await;
    let (t, _) = guide_shop(&app, b"guide").await;
    let shop = &t.shop;
    let to = "hanako@example.jp";

    // a tea (1,080) and the digital guide (550), shipping 800: 2,430 yen
    let cart = cart_with(&app, shop, &[(&t.tea, 1), (&t.guide, 1)]).await;
    let body = json!({ "email": "Hanako@Example.JP", "shipping_address": address("東京都"), "payment_method": "bank_transfer" });
    let placed = checkout(&app, shop, &cart, body, None).await.expect(201);
    let order = &placed["order"];
    assert_eq!(order["total"], yen(2430));
    let id = order["id"].as_str().unwrap();
    let number = order["number"].as_i64().unwrap().to_string();
    let due: DateTime<Utc> = order["payment"]["due_at"].as_str().unwrap().parse().unwrap();
    let due_jst = due.with_timezone(&FixedOffset::east_opt(9 * 3600).unwrap()).format("%Y年%-m月%-d日").to_string();

    // placed: the confirmation and the instructions
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails.len(), 2, "{mails:#?}");
    assert!(mails.iter().all(|m| m.to.contains(to)));
    let confirmation = one(&mails, "ご注文ありがとうございます");
    assert!(confirmation.subject.contains(&number));
    has(
        confirmation,
        &[&number, "Sencha × 1", "Brewing guide × 1", "送料: 800円", "2,430円", "銀行振込", "渋谷区神宮前"],
    );
    let instructions = one(&mails, "お振込のご案内");
    assert!(instructions.subject.contains(&number));
    has(
        instructions,
        &[&number, "2,430円", &due_jst, "テスト銀行", "本店", "普通", "1234567", "テンポ", "山田 花子 様"],
    );

    // paid: payment received, and the guide's download
    let base = format!("/admin/v1/orders/{id}");
    app.post(&format!("{base}/payments/confirm"), &shop.owner_token, json!({ "received": yen(2430) }))
        .await
        .expect(200);
    let mails = smtp.wait_for(4).await;
    assert_eq!(mails.len(), 4, "{mails:#?}");
    has(one(&mails, "ご入金を確認"), &[&number, "2,430円"]);
    has(one(&mails, "ダウンロードのご案内"), &[&number, "Brewing guide"]);

    // shipped: carrier, tracking number and what the shipment carries (not the guide)
    let shipment = order["shipments"][0]["id"].as_str().unwrap();
    app.post(
        &format!("{base}/shipments/{shipment}/ship"),
        &shop.owner_token,
        json!({ "carrier": "ヤマト運輸", "tracking_no": "1234-5678-9012" }),
    )
    .await
    .expect(200);
    let mails = smtp.wait_for(5).await;
    assert_eq!(mails.len(), 5, "{mails:#?}");
    let shipped = one(&mails, "発送いたしました");
    has(shipped, &[&number, "ヤマト運輸", "1234-5678-9012", "Sencha × 1"]);
    assert!(!shipped.body.contains("Brewing guide"), "{}", shipped.body);
    // one Message-ID per message
    let mut ids: Vec<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);

    // the relay dies after the mails of order.placed were recorded, before the event was
    // marked: the event is delivered again, even with the consumer's processed row gone (the
    // worst case), and the send log records nothing new, so nothing is sent again
    let event = published(&app, "order.placed", id).await;
    for forget in [false, true] {
        if forget {
            sqlx::query("DELETE FROM processed_events WHERE consumer = 'checkout.mails' AND event_id = $1")
                .bind(event)
                .execute(&app.owner)
                .await
                .unwrap();
        }
        sqlx::query(
            "UPDATE outbox_events SET status = 'pending', available_at = now(), locked_until = NULL WHERE id = $1",
        )
        .bind(event)
        .execute(&app.owner)
        .await
        .unwrap();
        published(&app, "order.placed", id).await;
    }
    let handled =
        format!("SELECT count(*) FROM processed_events WHERE consumer = 'checkout.mails' AND event_id = '{event}'");
    assert_eq!(app.count(&handled).await, 1, "the consumer ran again");
    let mails = smtp.wait_for(5).await;
    assert_eq!(mails.len(), 5, "a redelivered event mailed again: {mails:#?}");
    let recorded = format!("SELECT count(*) FROM email_messages WHERE dedupe_key LIKE '{event}:%'");
    assert_eq!(app.count(&recorded).await, 2);
}

#[tokio::test]
async fn a_cod_order_gets_the_confirmation_only() {
    let smtp = Smtp::start().await;
    let app = TestApp::spawn_with(|c, _| smtp.configure(c)).await;
    let t = super::tea_shop(&app).await;
    let shop = &t.shop;
    let cart = cart_with(&app, shop, &[(&t.tea, 2)]).await;
    let body = json!({ "email": "taro@example.jp", "shipping_address": address("東京都"), "payment_method": "cod" });
    let placed: Value = checkout(&app, shop, &cart, body, None).await.expect(201);
    let order = &placed["order"];
    // 2,160 + shipping 800 + COD fee 330 = 3,290
    assert_eq!(order["total"], yen(3290));
    let id = order["id"].as_str().unwrap();
    published(&app, "order.placed", id).await;
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let confirmation = one(&mails, "ご注文ありがとうございます");
    assert!(confirmation.to.contains("taro@example.jp"));
    has(confirmation, &[&order["number"].as_i64().unwrap().to_string(), "代引手数料: 330円", "3,290円", "代金引換"]);
    assert!(with_subject(&mails, "お振込").is_empty());
}
