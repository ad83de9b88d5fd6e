//! `tenpo inventory check`: finds drift between stock rows and reservations, and repairs it.

use super::{add, inventory_check, new_cart, numbers, stocked_variant};
use crate::support::TestApp;

#[tokio::test]
async fn the_check_finds_drift_and_repair_fixes_it_on_record() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let variant = stocked_variant(&app, &shop, 10, false, None).await;
    let cart = new_cart(&app, &shop).await;
    add(&app, &shop, &cart, &variant, 3, None).await.expect(201);
    let (clean, out) = inventory_check(&app, false);
    assert!(clean, "{out}");
    assert!(out.contains("0 drifted"), "{out}");

    // something writes the number behind the reservations' back
    sqlx::query(&format!("UPDATE inventory_stocks SET reserved = 7 WHERE variant_id = '{variant}'"))
        .execute(&app.owner)
        .await
        .unwrap();
    let (clean, out) = inventory_check(&app, false);
    assert!(!clean);
    assert!(out.contains("reserved 7 but active reservations hold 3"), "{out}");

    let (clean, out) = inventory_check(&app, true);
    assert!(clean, "{out}");
    assert!(out.contains("1 repaired"), "{out}");
    assert_eq!(numbers(&app, &variant).await, (10, 3));
    assert_eq!(app.count(&format!("SELECT count(*) FROM inventory_movements WHERE variant_id = '{variant}' AND reason = 'repair' AND reserved_delta = -4")).await, 1);
    assert!(inventory_check(&app, false).0);
}
