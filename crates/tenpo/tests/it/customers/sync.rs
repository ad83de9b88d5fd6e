//! Store sync: a profile change reaches the tenant's other synced stores through the outbox,
//! exactly once, never an unsynced store, and the later edit of each field wins.

use std::sync::Arc;

use customers::sync::{CONSUMER, StoreSync};
use events::{Relay, RelayOptions};
use serde_json::json;
use uuid::Uuid;

use super::{create, id, set_sync, sibling, uuid};
use crate::support::{Shop, TestApp};

fn relay(app: &TestApp) -> Relay {
    Relay::new(app.db.clone(), RelayOptions::default()).with_consumer(Arc::new(StoreSync::new(app.db.clone())))
}

async fn drain(app: &TestApp) {
    let relay = relay(app);
    while relay.run_once().await.unwrap() > 0 {}
}

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Seen {
    name: String,
    phone: Option<String>,
    notes: Option<String>,
    version: i64,
}

async fn profile(app: &TestApp, shop: &Shop, customer: &str) -> Seen {
    sqlx::query_as("SELECT name, phone, notes, version FROM customer_profiles WHERE store_id = $1 AND customer_id = $2")
        .bind(uuid(&shop.store_id))
        .bind(uuid(customer))
        .fetch_one(&app.owner)
        .await
        .unwrap()
}

async fn synced_events(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM outbox_events WHERE event_type = 'customer.profile_synced'").await
}

#[tokio::test]
async fn sync_reaches_synced_stores_exactly_once_and_never_an_unsynced_store() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let s1 = app.shop().await;
    let s2 = sibling(&app, &s1).await;
    let s3 = sibling(&app, &s1).await;
    set_sync(&app, &s1, true).await;
    set_sync(&app, &s2, true).await;
    // s3 keeps sync off
    let customer = id(&create(&app, &s1, json!({ "email": "sync@example.jp", "name": "Before" })).await);
    create(&app, &s2, json!({ "email": "sync@example.jp" })).await;
    create(&app, &s3, json!({ "email": "sync@example.jp", "name": "Store 3 name" })).await;
    drain(&app).await;
    // the first store's name reached the second store's new profile; not the third
    assert_eq!(profile(&app, &s2, &customer).await.name, "Before");
    let s3_before = profile(&app, &s3, &customer).await;
    assert_eq!(s3_before.name, "Store 3 name");
    let s2_before = profile(&app, &s2, &customer).await;
    let synced_before = synced_events(&app).await;

    // an edit at the first store
    app.patch(
        &format!("/admin/v1/customers/{customer}"),
        &s1.owner_token,
        json!({ "name": "After", "phone": "090-2222-3333", "notes": "store 1 only" }),
    )
    .await
    .expect(200);
    let event: Uuid = sqlx::query_scalar(
        "SELECT id FROM outbox_events WHERE event_type = 'customer.profile_updated' AND store_id = $1
          ORDER BY id DESC LIMIT 1",
    )
    .bind(uuid(&s1.store_id))
    .fetch_one(&app.owner)
    .await
    .unwrap();
    drain(&app).await;
    let s2_after = profile(&app, &s2, &customer).await;
    assert_eq!(
        s2_after,
        Seen {
            name: "After".into(),
            phone: Some("+819022223333".into()),
            notes: s2_before.notes.clone(),
            version: s2_before.version + 1
        },
        "synced once, notes stay the store's own"
    );
    assert_eq!(profile(&app, &s3, &customer).await, s3_before, "an unsynced store is never written");
    assert_eq!(synced_events(&app).await, synced_before + 1);

    // the same event delivered again (a relay that died before marking it) changes nothing
    sqlx::query("UPDATE outbox_events SET status = 'pending', available_at = now(), locked_until = NULL WHERE id = $1")
        .bind(event)
        .execute(&app.owner)
        .await
        .unwrap();
    assert_eq!(relay(&app).run_once().await.unwrap(), 1);
    assert_eq!(profile(&app, &s2, &customer).await, s2_after);
    assert_eq!(synced_events(&app).await, synced_before + 1);
    let processed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM processed_events WHERE consumer = $1 AND event_id = $2")
            .bind(CONSUMER)
            .bind(event)
            .fetch_one(&app.owner)
            .await
            .unwrap();
    assert_eq!(processed, 1);
    // writes made by sync trigger no further sync (no ping-pong): nothing is left to deliver
    // and the first store's profile was not touched back
    assert_eq!(relay(&app).run_once().await.unwrap(), 0);
    assert_eq!(profile(&app, &s1, &customer).await.version, 2);

    // turning the second store's sync off stops it being written
    set_sync(&app, &s2, false).await;
    app.patch(&format!("/admin/v1/customers/{customer}"), &s1.owner_token, json!({ "name": "Later" }))
        .await
        .expect(200);
    drain(&app).await;
    assert_eq!(profile(&app, &s2, &customer).await, s2_after);
}

#[tokio::test]
async fn the_later_edit_of_each_field_wins_in_every_synced_store() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let s1 = app.shop().await;
    let s2 = sibling(&app, &s1).await;
    set_sync(&app, &s1, true).await;
    set_sync(&app, &s2, true).await;
    let customer = id(&create(&app, &s1, json!({ "email": "lww@example.jp", "name": "Zero" })).await);
    create(&app, &s2, json!({ "email": "lww@example.jp" })).await;
    drain(&app).await;

    // before any delivery: store 1 edits the name, then store 2 the phone and, later, the name
    let path = format!("/admin/v1/customers/{customer}");
    app.patch(&path, &s1.owner_token, json!({ "name": "One", "preferences": { "dm": false } })).await.expect(200);
    app.patch(&path, &s2.owner_token, json!({ "phone": "0312345678" })).await.expect(200);
    app.patch(&path, &s2.owner_token, json!({ "name": "Two" })).await.expect(200);
    app.patch(&path, &s1.owner_token, json!({ "preferences": { "dm": true, "size": "M" } })).await.expect(200);
    drain(&app).await;
    for shop in [&s1, &s2] {
        let d = super::detail(&app, shop, &customer).await;
        assert_eq!(d["profile"]["name"], "Two", "the later name wins everywhere");
        assert_eq!(d["profile"]["phone"], "+81312345678");
        assert_eq!(d["profile"]["preferences"], json!({ "dm": true, "size": "M" }));
    }
    // carrying every store's state again, in any order, changes nothing
    let versions = || async {
        sqlx::query_scalar::<_, i64>("SELECT sum(version)::bigint FROM customer_profiles")
            .fetch_one(&app.owner)
            .await
            .unwrap()
    };
    let before = versions().await;
    for shop in [&s2, &s1] {
        let mut tx = app.db.begin(shop.tenant_id.parse().unwrap()).await.unwrap();
        let changed =
            customers::sync::sync_customers(&mut tx, shop.store_id.parse().unwrap(), &[customer.parse().unwrap()])
                .await
                .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(changed, 0);
    }
    assert_eq!(versions().await, before);
}
