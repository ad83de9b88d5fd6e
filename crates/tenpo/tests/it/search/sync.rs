//! Keeping the index in step: archive and delete leave the results once the consumer has run,
//! a redelivered (or stale) event changes nothing, and an interrupted reindex resumes.

use std::sync::Arc;

use reqwest::Method;
use search::{Search, SearchSettings};

use super::{find, product, search_until, titles};
use crate::support::TestApp;

#[tokio::test]
async fn search_sync_archived_and_deleted_products_leave_the_results() {
    let app = TestApp::spawn().await;
    let shop = app.shop().await;
    let tea = product(&app, &shop, "Sencha Green Tea", None, &[("SEN", 1200, 5)]).await;
    let other = product(&app, &shop, "Hojicha Tea", None, &[("HOJ", 900, 5)]).await;
    search_until(&app, &shop.handle, "q=tea", |p| p["total"] == 2).await;

    let id = tea["id"].as_str().unwrap();
    app.call(Method::POST, &format!("/admin/v1/products/{id}/archive"), Some(&shop.owner_token), None)
        .await
        .expect(200);
    // the storefront shows the catalog as it is at once; the index follows within the sync lag
    let page = find(&app, &shop.handle, "q=tea").await;
    assert_eq!(titles(&page), ["Hojicha Tea"]);
    let page = search_until(&app, &shop.handle, "q=tea", |p| p["total"] == 1).await;
    assert_eq!(page["facets"]["vendor"].as_object().unwrap().values().next().unwrap(), 1);

    // a draft never shows
    app.post(
        "/admin/v1/products",
        &shop.owner_token,
        serde_json::json!({ "title": "Draft Tea", "variants": [{ "sku": "D", "price": super::yen(1) }] }),
    )
    .await
    .expect(201);
    let other_id = other["id"].as_str().unwrap();
    app.delete(&format!("/admin/v1/products/{other_id}"), &shop.owner_token).await.expect(204);
    search_until(&app, &shop.handle, "q=tea", |p| p["total"] == 0).await;
    // and once the sync caught up nothing is waiting
    let started = std::time::Instant::now();
    while app.count("SELECT count(*) FROM search_pending").await > 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "marks never cleared");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // stock changes reach the in-stock filter
    let mug = product(&app, &shop, "Tea Mug", None, &[("MUG", 2000, 0)]).await;
    search_until(&app, &shop.handle, "in_stock=false", |p| p["total"] == 1).await;
    let variant = mug["variants"][0]["id"].as_str().unwrap();
    app.post(
        "/admin/v1/inventory/adjustments",
        &shop.owner_token,
        serde_json::json!({ "variant_id": variant, "location_id": shop.location_id, "delta": 3, "reason": "receipt" }),
    )
    .await
    .expect(200);
    search_until(&app, &shop.handle, "in_stock=true", |p| p["total"] == 1).await;
}

/// Runs what the worker runs, by hand: the relay with the search consumer, then a sync round.
async fn deliver(app: &TestApp, index: &Search) {
    let relay = events::Relay::new(app.db.clone(), events::RelayOptions::default())
        .with_consumer(Arc::new(search::sync::SearchSync::new(None)));
    while relay.run_once().await.unwrap() > 0 {}
    while search::sync::round(&app.db, index, 500).await.unwrap() > 0 {}
}

async fn writer(app: &TestApp) -> Search {
    let dir = app.config.search.index_dir.clone().unwrap();
    Search::open(&SearchSettings::Embedded { dir, write: true, writer_memory: search::embedded::DEFAULT_WRITER_MEMORY })
        .await
        .unwrap()
}

#[tokio::test]
async fn search_sync_redelivered_event_is_a_no_op() {
    // no worker: the test delivers events itself
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let index = writer(&app).await;
    let shop = app.shop().await;
    let tea = product(&app, &shop, "Gyokuro Tea", None, &[("GYO", 3000, 5)]).await;
    let id = tea["id"].as_str().unwrap();
    deliver(&app, &index).await;
    let q = |s: &str| search::SearchQuery { text: s.into(), ..search_query(&shop) };
    assert_eq!(index.search(&q("gyokuro")).await.unwrap().ids.len(), 1);
    let processed = "SELECT count(*) FROM processed_events WHERE consumer = 'search.sync'";
    let before = app.count(processed).await;
    assert!(before >= 1);

    // the same events delivered again (a relay that died before marking them published)
    sqlx::query("UPDATE outbox_events SET status = 'pending', available_at = now(), published_at = NULL")
        .execute(&app.owner)
        .await
        .unwrap();
    let relay = events::Relay::new(app.db.clone(), events::RelayOptions::default())
        .with_consumer(Arc::new(search::sync::SearchSync::new(None)));
    while relay.run_once().await.unwrap() > 0 {}
    assert_eq!(app.count(processed).await, before, "no second effect");
    assert_eq!(app.count("SELECT count(*) FROM search_pending").await, 0, "nothing marked again");

    // a stale event handled again after the product was archived (its processed record lost):
    // the document comes from the product as it is now, so the archive stands
    app.call(Method::POST, &format!("/admin/v1/products/{id}/archive"), Some(&shop.owner_token), None)
        .await
        .expect(200);
    deliver(&app, &index).await;
    assert!(index.search(&q("gyokuro")).await.unwrap().ids.is_empty());
    sqlx::query(
        "DELETE FROM processed_events WHERE consumer = 'search.sync'
            AND event_id IN (SELECT id FROM outbox_events WHERE event_type = 'product.created')",
    )
    .execute(&app.owner)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE outbox_events SET status = 'pending', available_at = now() WHERE event_type = 'product.created'",
    )
    .execute(&app.owner)
    .await
    .unwrap();
    deliver(&app, &index).await;
    assert!(index.search(&q("gyokuro")).await.unwrap().ids.is_empty(), "a stale event cannot bring it back");
    let mut archived = q("gyokuro");
    archived.statuses = vec!["archived".into()];
    assert_eq!(index.search(&archived).await.unwrap().ids.len(), 1, "the status filter sees it as archived");
}

fn search_query(shop: &crate::support::Shop) -> search::SearchQuery {
    search::SearchQuery::all(shop.tenant_id.parse().unwrap(), shop.store_id.parse().unwrap())
}

#[tokio::test]
async fn search_reindex_interrupted_half_way_resumes_from_its_cursor() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let index = writer(&app).await;
    let shop = app.shop().await;
    for i in 0..5 {
        product(&app, &shop, &format!("Blend {i}"), None, &[(&format!("B{i}"), 1000 + i, 1)]).await;
    }
    let (tenant, store) = (shop.tenant_id.parse().unwrap(), shop.store_id.parse().unwrap());
    let opts = search::reindex::ReindexOptions { batch: 2, max_batches: Some(1) };
    let mut seen = Vec::new();
    let mut progress = |done: u64, total: u64| seen.push((done, total));
    let first = search::reindex::reindex_store(&app.db, &index, tenant, store, &opts, &mut progress).await.unwrap();
    assert_eq!((first.total, first.walked, first.finished), (5, 2, false));
    assert_eq!(seen, [(0, 5), (2, 5)]);
    let state: (Option<uuid::Uuid>, bool, bool) = sqlx::query_as(
        "SELECT last_product_id, reindex_started_at IS NOT NULL, reindex_finished_at IS NOT NULL
           FROM search_sync_state WHERE store_id = $1 AND backend = 'embedded'",
    )
    .bind(uuid::Uuid::parse_str(&shop.store_id).unwrap())
    .fetch_one(&app.owner)
    .await
    .unwrap();
    assert!(state.0.is_some() && state.1 && !state.2, "cursor recorded, reindex open: {state:?}");
    assert_eq!(index.search(&search_query(&shop)).await.unwrap().total, 2);
    // the API process reads the same directory and follows the writer's commits
    search_until(&app, &shop.handle, "", |p| p["total"] == 2).await;

    // the next run resumes after the cursor and finishes
    let opts = search::reindex::ReindexOptions { batch: 2, max_batches: None };
    let mut seen = Vec::new();
    let mut progress = |done: u64, total: u64| seen.push((done, total));
    let second = search::reindex::reindex_store(&app.db, &index, tenant, store, &opts, &mut progress).await.unwrap();
    assert_eq!((second.resumed_after, second.walked, second.finished), (2, 3, true));
    assert_eq!(seen, [(2, 5), (4, 5), (5, 5)]);
    assert_eq!(index.search(&search_query(&shop)).await.unwrap().total, 5);
    search_until(&app, &shop.handle, "", |p| p["total"] == 5).await;

    // a finished reindex starts over; documents of products deleted behind the index's back go
    sqlx::query("UPDATE products SET deleted_at = now() WHERE title = 'Blend 0'").execute(&app.owner).await.unwrap();
    let third = search::reindex::reindex_store(&app.db, &index, tenant, store, &opts, &mut |_, _| {}).await.unwrap();
    assert_eq!((third.resumed_after, third.walked, third.finished), (0, 5, true));
    assert_eq!(index.search(&search_query(&shop)).await.unwrap().total, 4);
}

#[tokio::test]
async fn search_sync_imported_products_are_searchable_before_the_outbox_delivers_their_events() {
    // no worker: nothing delivers the outbox; only the sync round runs
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let index = writer(&app).await;
    let shop = app.shop().await;
    let csv = "Handle,Title,Variant SKU,Variant Price,Variant Inventory Qty,Status\n\
               sencha,静岡 Sencha,SEN,1200,5,active\n\
               matcha,Uji Matcha,MAT,2400,3,active\n";
    let res = app
        .client
        .post(app.url("/admin/v1/products/import"))
        .bearer_auth(&shop.owner_token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert!(app.count("SELECT count(*) FROM outbox_events WHERE status = 'pending'").await >= 2, "events undelivered");
    while search::sync::round(&app.db, &index, 500).await.unwrap() > 0 {}
    let q = |s: &str| search::SearchQuery { text: s.into(), ..search_query(&shop) };
    assert_eq!(index.search(&q("sencha")).await.unwrap().ids.len(), 1);
    assert_eq!(index.search(&q("静岡")).await.unwrap().ids.len(), 1);
    assert_eq!(index.search(&search_query(&shop)).await.unwrap().total, 2);
    // the API process follows the writer's commits
    search_until(&app, &shop.handle, "q=matcha", |p| p["total"] == 1).await;
}
