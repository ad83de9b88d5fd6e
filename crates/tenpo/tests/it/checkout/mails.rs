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

/// A real `tenpo worker` process sends the order confirmation and is killed (SIGKILL) as soon
/// as the send is recorded. The event is then handed out again, as a relay that died before
/// marking it leaves it (processing, its lease passed), with the mail consumer's record of it
/// gone, and a second worker process takes it: the SMTP server still holds the one message.
#[tokio::test]
async fn a_worker_killed_after_the_send_was_recorded_does_not_send_it_again() {
    let smtp = Smtp::start().await;
    // the API in-process; the relay and the sender only in the child processes
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let t = super::tea_shop(&app).await;
    let shop = &t.shop;
    let cart = cart_with(&app, shop, &[(&t.tea, 1)]).await;
    let body = json!({ "email": "jiro@example.jp", "shipping_address": address("東京都"), "payment_method": "cod" });
    let placed: Value = checkout(&app, shop, &cart, body, None).await.expect(201);
    let order = placed["order"]["id"].as_str().unwrap().to_string();
    let port = smtp.port.to_string();
    let env = [
        ("TENPO_SMTP_HOST", "127.0.0.1"),
        ("TENPO_SMTP_PORT", port.as_str()),
        ("TENPO_SMTP_TLS", "none"),
        ("TENPO_MAIL_FROM", "shop@tenpo.test"),
    ];
    let start_worker = || {
        let mut cmd = crate::support::process::tenpo(&app);
        cmd.arg("worker").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("tenpo worker")
    };
    let sent = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM email_messages WHERE to_address = 'jiro@example.jp' AND status = 'sent'",
        )
        .fetch_one(&app.owner)
        .await
        .unwrap()
    };

    let mut first = start_worker();
    let mut waited = 0;
    while sent().await == 0 {
        assert!(first.try_wait().unwrap().is_none(), "the worker exited");
        assert!(waited < 1200, "the confirmation was not sent within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(smtp.messages().len(), 1, "{:#?}", smtp.messages());

    // the event again, as a relay killed before marking it published leaves it
    let event: uuid::Uuid = sqlx::query_scalar(
        "UPDATE outbox_events SET status = 'processing', locked_until = now() - interval '1 second'
          WHERE event_type = 'order.placed' AND aggregate_id::text = $1 RETURNING id",
    )
    .bind(&order)
    .fetch_one(&app.owner)
    .await
    .unwrap();
    // and the mail consumer runs on it again, as if its record of the event were lost: the
    // message's dedupe key (event and recipient) records nothing new
    sqlx::query("DELETE FROM processed_events WHERE consumer = 'checkout.mails' AND event_id = $1")
        .bind(event)
        .execute(&app.owner)
        .await
        .unwrap();
    let mut second = start_worker();
    let mut waited = 0;
    loop {
        let status: String = sqlx::query_scalar("SELECT status FROM outbox_events WHERE id = $1")
            .bind(event)
            .fetch_one(&app.owner)
            .await
            .unwrap();
        if status == "published" {
            break;
        }
        assert!(waited < 1200, "the event was not handed out again within 60 s ({status})");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    // several of the sender's polls (every second)
    tokio::time::sleep(Duration::from_secs(3)).await;
    second.kill().unwrap();
    second.wait().unwrap();
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "sent once: {mails:#?}");
    one(&mails, "ご注文ありがとうございます");
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM email_messages WHERE to_address = 'jiro@example.jp'")
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert_eq!(recorded, 1, "recorded once");
}
