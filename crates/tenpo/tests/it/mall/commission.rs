//! Commission frozen on every order line when the order is placed.

use reqwest::Method;
use serde_json::json;

use super::{mall, order, product, vendor};
use crate::checkout::yen;
use crate::support::TestApp;

fn line<'a>(order: &'a serde_json::Value, variant: &str) -> &'a serde_json::Value {
    order["items"].as_array().unwrap().iter().find(|l| l["variant_id"] == variant).expect("the line")
}

#[tokio::test]
async fn commission_is_computed_per_line_at_placing_and_never_changes_after() {
    let app = TestApp::spawn().await;
    let shop = mall(&app).await;
    let a = vendor(&app, &shop, "Pottery A", 1000).await;
    let b = vendor(&app, &shop, "Tea B", 1200).await;
    let pot = product(&app, &a, "Teapot", "POT", 4400, "standard", 20).await;
    let tea = product(&app, &b, "Matcha", "TEA", 1620, "reduced", 20).await;
    // the matcha takes 15% instead of B's 12%, from today
    let c = app
        .call(
            Method::PUT,
            &format!("/admin/v1/products/{}/commission", tea.id),
            Some(&shop.owner_token),
            Some(json!({ "rate_bps": 1500 })),
        )
        .await
        .expect(200);
    assert_eq!((c["rate_bps"].as_i64(), c["overridden"].as_bool()), (Some(1500), Some(true)));

    let placed = order(&app, &shop, &[(&pot.variant, 1), (&tea.variant, 2)], "c@example.jp", "bank_transfer").await;
    // the shopper's answer carries no commission
    assert!(placed["items"][0].get("commission").is_none(), "{placed}");
    let id = placed["id"].as_str().unwrap().to_string();
    let whole = app.get(&format!("/admin/v1/orders/{id}"), &shop.owner_token).await.expect(200);
    // goods 4,400 + 3,240 = 7,640 < 10,000: shipping 800, shared 461 / 339 (by goods); by
    // default fees carry no commission: 10% of 4,400 = 440; 15% of 3,240 = 486
    assert_eq!(
        line(&whole, &pot.variant)["commission"],
        json!({ "rate_bps": 1000, "base": yen(4400), "amount": yen(440) })
    );
    assert_eq!(
        line(&whole, &tea.variant)["commission"],
        json!({ "rate_bps": 1500, "base": yen(3240), "amount": yen(486) })
    );
    // vendor A sees its own line's commission, and its part carries its share of the shipping
    let part = app.get(&format!("/admin/v1/orders/{id}"), &a.owner.token).await.expect(200);
    assert_eq!(part["items"][0]["commission"]["amount"], yen(440));
    assert_eq!((part["shipping_fee"].clone(), part["total"].clone()), (yen(461), yen(4861)));
    // 4,861 at 10%: floor(4,861 × 10/110) = 441
    assert_eq!(part["tax_lines"], json!([{ "rate_bps": 1000, "taxable_amount": 4861, "tax_amount": 441 }]));

    // the mall now charges commission on shipping, and A's rate goes to 20% today
    app.patch("/admin/v1/mall/settings", &shop.owner_token, json!({ "commission_on_shipping": true }))
        .await
        .expect(200);
    app.patch(&format!("/admin/v1/vendors/{}", a.id), &shop.owner_token, json!({ "commission_rate_bps": 2000 }))
        .await
        .expect(200);
    // the placed order keeps what it was placed with
    let again = app.get(&format!("/admin/v1/orders/{id}"), &shop.owner_token).await.expect(200);
    assert_eq!(again["items"], whole["items"]);
    // a new order takes the new terms: 20% of 4,400 + 461 = 972.2 -> 972; 15% of 3,240 + 339 = 536.85 -> 536
    let next = order(&app, &shop, &[(&pot.variant, 1), (&tea.variant, 2)], "d@example.jp", "bank_transfer").await;
    let next =
        app.get(&format!("/admin/v1/orders/{}", next["id"].as_str().unwrap()), &shop.owner_token).await.expect(200);
    assert_eq!(
        line(&next, &pot.variant)["commission"],
        json!({ "rate_bps": 2000, "base": yen(4861), "amount": yen(972) })
    );
    assert_eq!(
        line(&next, &tea.variant)["commission"],
        json!({ "rate_bps": 1500, "base": yen(3579), "amount": yen(536) })
    );

    // an override from tomorrow is listed but not in effect yet
    let tomorrow = (chrono::Utc::now() + chrono::Duration::hours(9)).date_naive() + chrono::Duration::days(1);
    let c = app
        .call(
            Method::PUT,
            &format!("/admin/v1/products/{}/commission", pot.id),
            Some(&shop.owner_token),
            Some(json!({ "rate_bps": 500, "effective_from": tomorrow })),
        )
        .await
        .expect(200);
    assert_eq!((c["rate_bps"].as_i64(), c["overridden"].as_bool()), (Some(2000), Some(false)));
    assert_eq!(c["overrides"][0], json!({ "rate_bps": 500, "effective_from": tomorrow }));
    // not in the past, not above 100%
    let path = format!("/admin/v1/products/{}/commission", pot.id);
    app.call(
        Method::PUT,
        &path,
        Some(&shop.owner_token),
        Some(json!({ "rate_bps": 500, "effective_from": "2020-01-01" })),
    )
    .await
    .expect_problem(422, "validation_failed");
    app.call(Method::PUT, &path, Some(&shop.owner_token), Some(json!({ "rate_bps": 10_001 })))
        .await
        .expect_problem(422, "validation_failed");
    // a vendor reads its own products' commission, never sets it, never sees another vendor's
    app.get(&path, &a.owner.token).await.expect(200);
    app.call(Method::PUT, &path, Some(&a.owner.token), Some(json!({ "rate_bps": 0 })))
        .await
        .expect_problem(403, "permission_denied");
    app.get(&format!("/admin/v1/products/{}/commission", tea.id), &a.owner.token)
        .await
        .expect_problem(404, "product_not_found");
}
