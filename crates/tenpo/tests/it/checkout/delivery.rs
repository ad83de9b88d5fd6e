//! Delivery dates and slots (issue 19 item 2): the window in the store's business days around a
//! public holiday and a weekend, extra days to Okinawa and a remote island, the cut-off hour,
//! the carriers' slot presets; placing refuses a date or slot outside them. "Now" is fixed in
//! each test's server (`config.http.clock`), never the real clock.

use chrono::{DateTime, TimeZone, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::{TeaShop, address, cart_call, cart_with, checkout, tea_shop};
use crate::support::TestApp;

fn jst(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    kernel::jp::jst().with_ymd_and_hms(y, m, d, h, min, 0).unwrap().with_timezone(&Utc)
}

async fn app_at(now: DateTime<Utc>) -> TestApp {
    TestApp::spawn_with(|c, o| {
        c.http.clock = kernel::Clock::fixed(now);
        o.worker = false;
    })
    .await
}

/// Ships on weekdays that are not public holidays, one business day after the order, orders
/// from noon counting from the next day; Yamato's slots; Okinawa two extra days, the Ogasawara
/// islands (100-21xx) six.
async fn weekday_shop(app: &TestApp) -> TeaShop {
    let t = tea_shop(app).await;
    let seen = app
        .patch(
            "/admin/v1/store/checkout-settings",
            &t.shop.owner_token,
            json!({ "delivery_slot_preset": "yamato", "delivery_lead_days": 1, "delivery_cutoff_hour": 12,
                    "delivery_window_days": 14, "closed_weekdays": ["sat", "sun"], "closed_on_holidays": true,
                    "delivery_extra_days": [{ "prefecture": "沖縄県", "days": 2 }, { "postal_code_prefix": "100-21", "days": 6 }] }),
        )
        .await
        .expect(200);
    assert_eq!(seen["closed_weekdays"], json!(["sat", "sun"]));
    assert_eq!(seen["delivery_extra_days"][1]["postal_code_prefix"], "10021");
    t
}

fn order(prefecture: &str, date: &str, slot: &str) -> Value {
    json!({ "email": "hanako@example.jp", "shipping_address": address(prefecture), "payment_method": "bank_transfer",
            "delivery_date": date, "delivery_slot": slot })
}

fn window(options: &Value) -> (&str, &str, &str) {
    let w = &options["delivery_window"];
    (w["ships_on"].as_str().unwrap(), w["earliest"].as_str().unwrap(), w["latest"].as_str().unwrap())
}

#[tokio::test]
async fn the_window_skips_the_weekend_and_the_september_holidays_and_adds_okinawas_days() {
    // Friday 2026-09-18, 10:00 in Japan; then the weekend, 敬老の日 (21), 国民の休日 (22) and
    // 秋分の日 (23): the order counts from Friday and ships one business day later, Thursday the 24th
    let app = app_at(jst(2026, 9, 18, 10, 0)).await;
    let t = weekday_shop(&app).await;
    let shop = &t.shop;
    let cart = cart_with(&app, shop, &[(&t.tea, 1)]).await;
    let options =
        cart_call(&app, Method::GET, shop, &cart, "/checkout-options?prefecture=東京都", None).await.expect(200);
    assert_eq!(window(&options), ("2026-09-24", "2026-09-25", "2026-10-08"));
    let slots: Vec<(&str, &str)> = options["delivery_slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["label"].as_str().unwrap(), s["carrier_code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        slots,
        [
            ("午前中", "0812"),
            ("14時〜16時", "1416"),
            ("16時〜18時", "1618"),
            ("18時〜20時", "1820"),
            ("19時〜21時", "1921")
        ]
    );
    let okinawa = cart_call(&app, Method::GET, shop, &cart, "/checkout-options?prefecture=47", None).await.expect(200);
    assert_eq!(window(&okinawa), ("2026-09-24", "2026-09-27", "2026-10-10"));
    let island =
        cart_call(&app, Method::GET, shop, &cart, "/checkout-options?prefecture=東京都&postal_code=100-2101", None)
            .await
            .expect(200);
    assert_eq!(window(&island).1, "2026-10-01");

    // a day before the earliest, and after the latest, is refused naming the range; nothing is written
    for date in ["2026-09-24", "2026-10-09"] {
        let refused = checkout(&app, shop, &cart, order("東京都", date, "am"), None)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(refused["errors"][0]["field"], "delivery_date", "{refused}");
        assert_eq!(refused["errors"][0]["code"], "out_of_range");
        assert!(
            refused["errors"][0]["message"].as_str().unwrap().contains("from 2026-09-25 to 2026-10-08"),
            "{refused}"
        );
    }
    // Sagawa's 12-14 is not one of Yamato's slots
    let refused = checkout(&app, shop, &cart, order("東京都", "2026-09-25", "12-14"), None)
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "delivery_slot");
    // Okinawa's earliest is two days later than Tokyo's
    let refused = checkout(&app, shop, &cart, order("沖縄県", "2026-09-26", "am"), None)
        .await
        .expect_problem(422, "validation_failed");
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("from 2026-09-27"), "{refused}");
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 0);
    let placed = checkout(&app, shop, &cart, order("沖縄県", "2026-09-27", "19-21"), None).await.expect(201);
    assert_eq!(
        (&placed["order"]["delivery_date"], &placed["order"]["delivery_slot"]),
        (&json!("2026-09-27"), &json!("19-21"))
    );
}

#[tokio::test]
async fn an_order_from_the_cut_off_hour_counts_from_the_next_business_day() {
    // Tuesday 2026-12-01, 11:59 in Japan: before the cut-off, ships Wednesday, earliest Thursday
    let app = app_at(jst(2026, 12, 1, 11, 59)).await;
    let t = weekday_shop(&app).await;
    let cart = cart_with(&app, &t.shop, &[(&t.tea, 1)]).await;
    let options = cart_call(&app, Method::GET, &t.shop, &cart, "/checkout-options", None).await.expect(200);
    assert_eq!(window(&options).1, "2026-12-03");
    checkout(&app, &t.shop, &cart, order("東京都", "2026-12-03", "am"), None).await.expect(201);

    // the same store's calendar at 12:00: a day later
    let app = app_at(jst(2026, 12, 1, 12, 0)).await;
    let t = weekday_shop(&app).await;
    let cart = cart_with(&app, &t.shop, &[(&t.tea, 1)]).await;
    let options = cart_call(&app, Method::GET, &t.shop, &cart, "/checkout-options", None).await.expect(200);
    assert_eq!(window(&options), ("2026-12-03", "2026-12-04", "2026-12-17"));
    checkout(&app, &t.shop, &cart, order("東京都", "2026-12-03", "am"), None)
        .await
        .expect_problem(422, "validation_failed");
    checkout(&app, &t.shop, &cart, order("東京都", "2026-12-04", "am"), None).await.expect(201);
}

#[tokio::test]
async fn delivery_settings_refuse_what_cannot_work() {
    let app = app_at(jst(2026, 12, 1, 9, 0)).await;
    let shop = app.shop().await;
    let refused = app
        .patch(
            "/admin/v1/store/checkout-settings",
            &shop.owner_token,
            json!({ "delivery_lead_days": 31, "delivery_cutoff_hour": 24, "delivery_window_days": 0,
                    "closed_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "delivery_extra_days": [{ "days": 1 }, { "prefecture": "沖縄", "postal_code_prefix": "900", "days": 1 },
                                            { "postal_code_prefix": "90a", "days": 2 }],
                    "delivery_slots": [{ "code": "am", "label": "午前中", "carrier_code": "08-12" }] }),
        )
        .await
        .expect_problem(422, "validation_failed");
    let fields: Vec<&str> =
        refused["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "delivery_slots[0].carrier_code",
            "delivery_lead_days",
            "delivery_cutoff_hour",
            "delivery_window_days",
            "closed_weekdays",
            "delivery_extra_days[0]",
            "delivery_extra_days[1]",
            "delivery_extra_days[2].postal_code_prefix"
        ],
        "{refused}"
    );
    app.patch(
        "/admin/v1/store/checkout-settings",
        &shop.owner_token,
        json!({ "delivery_slot_preset": "sagawa", "delivery_slots": [] }),
    )
    .await
    .expect_problem(422, "validation_failed");
    // nothing changed; a preset alone replaces the slots; null removes the cut-off
    let seen = app
        .patch(
            "/admin/v1/store/checkout-settings",
            &shop.owner_token,
            json!({ "delivery_slot_preset": "sagawa", "delivery_cutoff_hour": null }),
        )
        .await
        .expect(200);
    assert_eq!((&seen["delivery_lead_days"], &seen["delivery_window_days"]), (&json!(0), &json!(60)));
    let codes: Vec<&str> =
        seen["delivery_slots"].as_array().unwrap().iter().map(|s| s["carrier_code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["01", "12", "14", "16", "04"]);
}
