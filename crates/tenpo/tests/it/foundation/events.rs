//! The event catalog: typed payloads published in the OpenAPI document, numbered per aggregate.

use std::collections::HashMap;

use events::EventType;
use reqwest::Method;
use serde_json::{Value, json};

use crate::inventory::stocked_variant;
use crate::support::TestApp;

fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_publishes_every_event_type_under_webhooks() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let spec = app.call(Method::GET, "/openapi.json", None, None).await.expect(200);
    let schemas = &spec["components"]["schemas"];
    assert_eq!(spec["webhooks"].as_object().unwrap().len(), EventType::ALL.len());
    for kind in EventType::ALL {
        let post = &spec["webhooks"][kind.name()]["post"];
        let body = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str().unwrap();
        let envelope = &schemas[body.trim_start_matches("#/components/schemas/")];
        assert_eq!(envelope["properties"]["type"]["enum"], json!([kind.name()]), "{kind}");
        assert_eq!(envelope["properties"]["aggregate"]["properties"]["type"]["enum"], json!([kind.aggregate()]));
        let data = envelope["properties"]["data"]["$ref"].as_str().unwrap();
        assert!(schemas[data.trim_start_matches("#/components/schemas/")].is_object(), "{kind}: {data}");
        let headers: Vec<&str> =
            post["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(headers, ["webhook-id", "webhook-timestamp", "webhook-signature"]);
    }
    // every schema the events refer to, however deep, resolves
    let mut todo = Vec::new();
    refs(&spec["webhooks"], &mut todo);
    let mut seen = std::collections::HashSet::new();
    while let Some(r) = todo.pop() {
        if !seen.insert(r) {
            continue;
        }
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(schemas[name].is_object(), "{r} does not resolve");
        refs(&schemas[name], &mut todo);
    }
}

#[tokio::test]
async fn one_aggregates_events_are_numbered_without_gaps_in_commit_order_however_many_race() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let variant = stocked_variant(&app, &shop, 0, false, None).await;
    let second = app
        .post("/admin/v1/locations", &shop.owner_token, json!({ "code": "osaka", "name": "Osaka" }))
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = app.events_of(&variant).await.len() as i64;
    // 24 adjustments at once, at two locations: two rows of stock, one aggregate
    let mut tasks = Vec::new();
    for i in 0..24 {
        let location = if i % 2 == 0 { shop.location_id.clone() } else { second.clone() };
        let body = json!({ "variant_id": variant, "location_id": location, "delta": 1, "reason": "receipt" });
        let (client, url, token) =
            (app.client.clone(), app.url("/admin/v1/inventory/adjustments"), shop.owner_token.clone());
        tasks.push(tokio::spawn(async move {
            let res = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            assert_eq!(res.status(), 200);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events = app.events_of(&variant).await;
    let numbers: Vec<i64> = events.iter().map(|(_, s, _)| *s).collect();
    assert_eq!(numbers, (1..=before + 24).collect::<Vec<_>>(), "1, 2, 3, ... with no gap and no repeat");
    // at each location the stock rose by one per event: the numbers follow the commits
    let mut last: HashMap<String, i64> = HashMap::new();
    for (kind, _, data) in events.iter().filter(|(t, _, _)| t == EventType::InventoryStockChanged.name()) {
        let location = data["location_id"].as_str().unwrap().to_string();
        let stock = data["stock"].as_i64().unwrap();
        let previous = last.insert(location, stock).unwrap_or(0);
        assert_eq!((data["previous_stock"].as_i64().unwrap(), stock), (previous, previous + 1), "{kind}: {data}");
    }
    assert_eq!(last.values().sum::<i64>(), 24);
}
