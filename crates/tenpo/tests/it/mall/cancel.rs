//! Cancellation in a mall: the mall cancels whole orders, a vendor its own unshipped lines.

use serde_json::{Value, json};

use super::{Vendor, mall, order, product, shipment_of, vendor};
use crate::checkout::yen;
use crate::support::TestApp;

async fn stock(app: &TestApp, variant: &str) -> i64 {
    app.count(&format!("SELECT sum(stock)::bigint FROM inventory_stocks WHERE variant_id = '{variant}'")).await
}

fn lines_of<'a>(order: &'a Value, v: &Vendor) -> Vec<&'a Value> {
    order["items"].as_array().unwrap().iter().filter(|l| l["vendor_id"] == v.id.as_str()).collect()
}

#[tokio::test]
async fn a_vendor_cancels_its_unshipped_lines_and_the_order_is_what_is_left() {
    let app = TestApp::spawn().await;
    let shop = mall(&app).await;
    let a = vendor(&app, &shop, "Pottery A", 1000).await;
    let b = vendor(&app, &shop, "Tea B", 1200).await;
    let pot = product(&app, &a, "Teapot", "POT", 4400, "standard", 20).await;
    let tea = product(&app, &b, "Matcha", "TEA", 1620, "reduced", 20).await;
    // COD: goods 7,640; shipping 800 (461 A / 339 B); 8,440 before the fee: 330 (190 A / 140 B,
    // 330 × 3,240/7,640 = 139.95 takes the odd yen); total 8,770
    let placed = order(&app, &shop, &[(&pot.variant, 1), (&tea.variant, 2)], "c@example.jp", "cod").await;
    assert_eq!(placed["total"], yen(8770));
    let id = placed["id"].as_str().unwrap().to_string();
    let path = format!("/admin/v1/orders/{id}/cancel-lines");
    assert_eq!((stock(&app, &pot.variant).await, stock(&app, &tea.variant).await), (19, 18));

    // a vendor's staff member (role staff) may not; the vendor's admin may, for its lines only
    app.post(&path, &a.staff.token, json!({ "reason": "out of stock" })).await.expect_problem(403, "permission_denied");
    let b_line = lines_of(&placed, &b)[0]["id"].as_str().unwrap().to_string();
    app.post(&path, &a.admin.token, json!({ "reason": "x", "line_ids": [b_line] }))
        .await
        .expect_problem(404, "order_line_not_found");
    // and never the whole order
    app.post(&format!("/admin/v1/orders/{id}/cancel"), &a.admin.token, json!({ "reason": "x" }))
        .await
        .expect_problem(403, "permission_denied");
    app.post(&path, &a.admin.token, json!({ "reason": "" })).await.expect_problem(422, "validation_failed");

    let part = app.post(&path, &a.admin.token, json!({ "reason": "out of stock" })).await.expect(200);
    assert!(part["items"][0]["canceled_at"].is_string(), "{part}");
    assert_eq!(part["total"], yen(0));
    assert_eq!(part["shipments"][0]["status"], "canceled");
    // A's teapot is back; B's matcha untouched
    assert_eq!((stock(&app, &pot.variant).await, stock(&app, &tea.variant).await), (20, 18));
    // the mall's view: what is left is B's part, with its shares of the fees
    let whole = app.get(&format!("/admin/v1/orders/{id}"), &shop.owner_token).await.expect(200);
    assert_eq!(whole["subtotal"], yen(3240));
    assert_eq!(whole["shipping_fee"], yen(339));
    assert_eq!(whole["cod_fee"], yen(140));
    assert_eq!(whole["total"], yen(3719));
    // 10%: the fees 339 + 140 = 479, floor(479 × 10/110) = 43; 8%: 3,240, floor(3,240 × 8/108) = 240
    assert_eq!(
        whole["tax_lines"],
        json!([{ "rate_bps": 1000, "taxable_amount": 479, "tax_amount": 43 }, { "rate_bps": 800, "taxable_amount": 3240, "tax_amount": 240 }])
    );
    assert_eq!(whole["payment"]["amount"], yen(3719), "the carrier collects less");
    assert_eq!(whole["status"], "processing");
    let b_ship = shipment_of(&whole, &b);
    assert!(
        whole["shipments"].as_array().unwrap().iter().any(|s| s["id"] == b_ship.as_str() && s["status"] == "pending")
    );
    let events: Vec<String> = app.events_of(&id).await.into_iter().map(|e| e.0).collect();
    assert!(events.contains(&"order.lines_canceled".to_string()), "{events:?}");
    let canceled = app.payload_of::<checkout::event::OrderLinesCanceled>(&id).await;
    assert_eq!((canceled.restocked_units, canceled.total.amount), (1, 3719));
    // nothing more of A's to cancel
    app.post(&path, &a.admin.token, json!({ "reason": "again" })).await.expect_problem(409, "order_line_canceled");

    // B ships: its lines cannot be canceled any more
    app.post(
        &format!("/admin/v1/orders/{id}/shipments/{b_ship}/ship"),
        &b.staff.token,
        json!({ "carrier": "ヤマト運輸", "tracking_no": "1234" }),
    )
    .await
    .expect(200);
    app.post(&path, &b.admin.token, json!({ "reason": "late" })).await.expect_problem(409, "order_already_shipped");
    // delivered and collected: the order completes at what is left
    let done = app
        .post(
            &format!("/admin/v1/orders/{id}/shipments/{b_ship}/deliver"),
            &b.staff.token,
            json!({ "collected": yen(3719) }),
        )
        .await
        .expect(200);
    assert_eq!(done["status"], "completed");
    let whole = app.get(&format!("/admin/v1/orders/{id}"), &shop.owner_token).await.expect(200);
    assert_eq!(
        (whole["payment"]["amount_mismatch"].as_bool(), whole["status"].as_str()),
        (Some(false), Some("completed"))
    );
}

#[tokio::test]
async fn a_paid_order_owes_back_the_canceled_part_and_whole_cancels_restock_once() {
    let app = TestApp::spawn().await;
    let shop = mall(&app).await;
    let a = vendor(&app, &shop, "Pottery A", 1000).await;
    let b = vendor(&app, &shop, "Tea B", 1200).await;
    let pot = product(&app, &a, "Teapot", "POT", 4400, "standard", 20).await;
    let tea = product(&app, &b, "Matcha", "TEA", 1620, "reduced", 20).await;
    let placed = order(&app, &shop, &[(&pot.variant, 1), (&tea.variant, 2)], "c@example.jp", "bank_transfer").await;
    let id = placed["id"].as_str().unwrap().to_string();
    // paid in full: 8,440
    app.post(&format!("/admin/v1/orders/{id}/payments/confirm"), &shop.owner_token, json!({ "received": yen(8440) }))
        .await
        .expect(200);
    // the mall's admin cancels A's line by id: A's part (4,400 + 461 shipping) is owed back
    let a_line = lines_of(&placed, &a)[0]["id"].as_str().unwrap().to_string();
    let after = app
        .post(
            &format!("/admin/v1/orders/{id}/cancel-lines"),
            &shop.owner_token,
            json!({ "reason": "damaged", "line_ids": [a_line] }),
        )
        .await
        .expect(200);
    assert_eq!(after["total"], yen(3579));
    assert_eq!(after["payment"]["refund_owed"], yen(4861));
    assert_eq!(after["payment"]["status"], "confirmed");
    // then the whole order: B's units come back, A's are not counted twice
    let canceled = app
        .post(&format!("/admin/v1/orders/{id}/cancel"), &shop.owner_token, json!({ "reason": "shopper asked" }))
        .await
        .expect(200);
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(canceled["payment"]["refund_owed"], yen(8440));
    assert_eq!((stock(&app, &pot.variant).await, stock(&app, &tea.variant).await), (20, 20));
    let ev = app.payload_of::<checkout::event::OrderCanceled>(&id).await;
    assert_eq!(ev.restocked_units, 2);
}
